"""What the deployment files are checked against: the services as the code declares them (read with ``ast``,
never imported, so these tests need none of the services' dependencies) and the rendered kustomize overlays."""

from __future__ import annotations

import ast
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")


@dataclass(frozen=True)
class CodeService:
    directory: str  # services/<directory>
    package: str  # distribution name in its pyproject.toml (what `uv sync --package` takes)
    module: str  # python -m <module>
    roles: tuple[str, ...]
    queues: tuple[str, ...]  # declared by its migrate role; consumed by its consumer role, if it has one
    port: int  # Settings.port default
    admin_auth: bool  # its Settings inherit AdminAuthSettings (needs NOTIFY_ADMIN_CLIENT_SECRET)
    secret_fields: tuple[str, ...]  # Settings fields that are secrets, as env variable names

    @property
    def name(self) -> str:
        """Prefix of its compose services and Kubernetes workloads: `gateway-api`, `notifications-consumer`."""
        return self.directory.removeprefix("api-")

    @property
    def consumed_queues(self) -> tuple[str, ...]:
        return self.queues if "consumer" in self.roles else ()


def _constant(tree: ast.Module, name: str) -> Any:
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == name and node.value is not None:
            return ast.literal_eval(node.value)
    return None


def _settings(path: Path) -> tuple[int, bool, tuple[str, ...]]:
    cls = next(
        n for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef) and n.name == "Settings"
    )
    fields = {
        n.target.id: n.value
        for n in cls.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    secrets = tuple(
        f.upper() for f in fields if f == "notify_secret_keys" or f.endswith(("_password", "_username"))
    )
    admin = any(isinstance(b, ast.Name) and b.id == "AdminAuthSettings" for b in cls.bases)
    return ast.literal_eval(fields["port"]), admin, secrets


def load_code_services() -> list[CodeService]:
    found = []
    for bootstrap in sorted(ROOT.glob("services/*/src/*/bootstrap.py")):
        package_dir = bootstrap.parent
        service_dir = package_dir.parents[1]
        tree = ast.parse(bootstrap.read_text())
        pyproject = tomllib.loads((service_dir / "pyproject.toml").read_text())
        port, admin, secrets = _settings(package_dir / "settings.py")
        found.append(
            CodeService(
                directory=service_dir.name,
                package=pyproject["project"]["name"],
                module=package_dir.name,
                roles=tuple(_constant(tree, "ROLES")),
                queues=tuple(_constant(tree, "QUEUES") or {}),
                port=port,
                admin_auth=admin,
                secret_fields=secrets,
            )
        )
    return found


@pytest.fixture(scope="session")
def code_services() -> list[CodeService]:
    services = load_code_services()
    assert len(services) >= 6, "expected a bootstrap.py per service under services/*/src/*/"
    return services


PINNED_KUSTOMIZE = (
    ROOT / ".tools" / "bin" / "kustomize"
)  # installed by `make install` when kubectl is missing


def renderer() -> list[str]:
    """``kubectl kustomize``, or the pinned kustomize ``make install`` puts in .tools/bin when kubectl is missing (the
    same renderer kubectl embeds). Neither is a failure, not a skip: the overlays must render in CI."""
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        return [kubectl, "kustomize"]
    if PINNED_KUSTOMIZE.exists():
        return [str(PINNED_KUSTOMIZE), "build"]
    pytest.fail("neither kubectl nor .tools/bin/kustomize: run `make install` (tools/bin/install-kustomize)")


def kustomize(path: Path) -> list[dict[str, Any]]:
    command = [*renderer(), str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{' '.join(command[:2])} {path} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay and its migrations, rendered: {"dev": [...], "dev/migrations": [...], ...}."""
    out = {}
    for overlay in OVERLAYS:
        out[overlay] = kustomize(K8S / "overlays" / overlay)
        out[f"{overlay}/migrations"] = kustomize(K8S / "overlays" / overlay / "migrations")
    return out
