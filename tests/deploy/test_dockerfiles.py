"""services/*/Dockerfile: multi-stage, locked uv install of the right package, small non-root runtime."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Instructions (continuation lines joined, comments dropped) grouped by stage; global ARG defaults."""
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?: AS (\S+))?", rest, flags=re.IGNORECASE)
            assert match, f"{path}: unreadable FROM {rest!r}"
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match.group(1))
            stages.append(Stage(base, match.group(2)))
        elif not stages:
            assert keyword == "ARG", f"{path}: {keyword} before the first FROM"
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"use the exec (JSON) form, not a shell string: {args}"
    return value


@pytest.fixture(params=sorted(p.parent.name for p in ROOT.glob("services/*/pyproject.toml")))
def service(request, code_services):  # type: ignore[no-untyped-def]
    code = next(c for c in code_services if c.directory == request.param)
    path = ROOT / "services" / code.directory / "Dockerfile"
    assert path.exists(), f"services/{code.directory} has no Dockerfile"
    return code, parse(path)


def test_multi_stage_small_runtime(service) -> None:
    _, (_, stages) = service
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    assert stages[-1].base == "python:3.11-slim"
    # The runtime gets the built virtualenv only: no source tree, no uv, no compilers.
    copies = stages[-1].all("COPY")
    assert copies and all(c.startswith("--from=") for c in copies), copies
    assert not any("uv" in r.split() for r in stages[-1].all("RUN")), "uv belongs in the builder"


def test_builder_installs_the_locked_package_with_uv(service) -> None:
    code, (_, stages) = service
    builder = stages[0]
    runs = builder.all("RUN")
    assert any(re.search(r"pip install .*\buv(==|\b)", r) for r in runs), "uv comes from PyPI"
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs, "dependencies are installed with uv sync"
    for sync in syncs:
        for flag in ("--frozen", "--no-dev", f"--package {code.package}"):
            assert flag in sync, f"{flag} missing from: {sync}"
    # The final sync installs the workspace packages as wheels, so the runtime needs no source checkout.
    assert "--no-editable" in syncs[-1]
    copied = [c.split()[0] for c in builder.all("COPY")]
    assert "uv.lock" in " ".join(builder.all("COPY")), "the lock file is what --frozen installs"
    assert f"services/{code.directory}/" in copied
    assert all(not c.startswith("services/") or c == f"services/{code.directory}/" for c in copied), (
        "only this service's sources go into its image"
    )


def test_runtime_runs_as_a_non_root_user(service) -> None:
    _, (_, stages) = service
    users = stages[-1].all("USER")
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert user.isdigit(), "a numeric uid lets Kubernetes verify runAsNonRoot"
    last_user = max(i for i, (kw, _) in enumerate(stages[-1].instructions) if kw == "USER")
    assert not any(kw == "RUN" for kw, _ in stages[-1].instructions[last_user:]), (
        "nothing runs as root after USER"
    )


def test_entrypoint_is_the_module_and_cmd_a_real_role(service) -> None:
    code, (_, stages) = service
    runtime = stages[-1]
    assert exec_form(runtime.all("ENTRYPOINT")[-1]) == ["python", "-m", code.module]
    (role,) = exec_form(runtime.all("CMD")[-1])
    assert role in code.roles
    env = " ".join(runtime.all("ENV"))
    assert "HTTP_HOST=0.0.0.0" in env
    assert f"PORT={code.port}" in env, (
        "PORT is the role's default port (the settings' and the health check's)"
    )
    assert runtime.all("EXPOSE") == [str(code.port)]


def test_healthcheck_uses_readiness(service) -> None:
    _, (_, stages) = service
    (check,) = stages[-1].all("HEALTHCHECK")
    assert "/health/ready" in check and "CMD" in check


def test_dockerignore_keeps_local_state_and_tests_out_of_the_context() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "**/.venv", "**/__pycache__", "**/tests", ".env"} <= ignored
    # ... but never what the Dockerfiles copy.
    assert not ignored & {"uv.lock", "pyproject.toml", "shared", "services", "**/pyproject.toml"}
