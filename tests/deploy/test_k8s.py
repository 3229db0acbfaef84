"""deploy/k8s: the overlays render, every object is valid Kubernetes, and each workload is hardened, probed,
sized, scaled and reachable only by whom it should be."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"  # the oldest cluster version we support
SECRET = "notify-secrets"
INGRESS_NAMESPACE = "ingress-nginx"
Obj = dict[str, Any]


def of(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def container(obj: Obj) -> Obj:
    (only,) = obj["spec"]["template"]["spec"]["containers"]
    return only


def is_simulator(obj: Obj) -> bool:
    return obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"].startswith("sim-")


def apps(rendered: dict[str, list[Obj]]) -> list[tuple[str, list[Obj]]]:
    return [(k, v) for k, v in rendered.items() if "/" not in k]


def test_generated_manifests_are_up_to_date() -> None:
    check = subprocess.run(
        [sys.executable, str(K8S / "generate.py"), "--check"], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, f"{check.stderr}\nrun: uv run python deploy/k8s/generate.py"


# --- schema validity ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def validate() -> Iterator[Callable[[Obj], None]]:
    import kubernetes_validate as kv  # a dev dependency: a missing one is a failure, not a skip
    import kubernetes_validate.utils as kv_utils

    def check(obj: Obj) -> None:
        kv.validate(obj, KUBERNETES_VERSION, strict=True)  # strict: unknown fields are errors too

    # kubernetes-validate re-reads the (large) schema files for every object: read each once.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            kv_utils, "schema_contents", functools.lru_cache(maxsize=None)(kv_utils.schema_contents)
        )
        yield check


def test_every_rendered_object_is_valid_kubernetes(rendered, validate) -> None:
    checked = 0
    for overlay, objects in rendered.items():
        for obj in objects:
            if obj["apiVersion"].startswith("keda.sh/"):
                continue  # a CRD: no schema shipped; checked structurally below
            try:
                validate(obj)
            except Exception as error:  # noqa: BLE001 - report which object, whatever the validator raised
                pytest.fail(f"{overlay}: {obj['kind']}/{obj['metadata']['name']}: {error}")
            checked += 1
    assert checked > 100


def test_the_validator_rejects_invalid_objects(rendered, validate) -> None:
    deployment = next(iter(of(rendered["prod"], "Deployment").values()))
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    container(broken)["readinessProbe"]["httpGet"]["pathh"] = "/health/ready"
    with pytest.raises(Exception, match="pathh|Additional properties"):
        validate(broken)


def test_keda_objects_are_well_formed(rendered) -> None:
    for _, objects in apps(rendered):
        deployments = of(objects, "Deployment")
        (auth,) = of(objects, "TriggerAuthentication").values()
        assert auth["apiVersion"] == "keda.sh/v1alpha1"
        assert auth["spec"]["secretTargetRef"] == [{"parameter": "host", "name": SECRET, "key": "AMQP_URL"}]
        for name, scaled in of(objects, "ScaledObject").items():
            assert scaled["apiVersion"] == "keda.sh/v1alpha1"
            spec = scaled["spec"]
            assert spec["scaleTargetRef"]["name"] in deployments
            assert "replicas" not in deployments[spec["scaleTargetRef"]["name"]]["spec"], "KEDA owns replicas"
            assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
            assert spec["triggers"], name
            for trigger in spec["triggers"]:
                assert trigger["type"] == "rabbitmq"
                assert trigger["metadata"]["mode"] == "QueueLength"
                assert int(trigger["metadata"]["value"]) > 0
                assert trigger["metadata"]["queueName"]
                assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}


# --- the code's roles and queues -------------------------------------------------------------------------
def test_every_role_is_deployed(rendered, code_services) -> None:
    for overlay, objects in apps(rendered):
        deployments, jobs = of(objects, "Deployment"), of(rendered[f"{overlay}/migrations"], "Job")
        for code in code_services:
            for role in set(code.roles) - {"all"}:  # `all` = api + consumer in one process: local runs only
                name = f"{code.name}-{role}"
                workload = (jobs if role == "migrate" else deployments).get(name)
                assert workload, f"{overlay}: {code.module} role {role!r} has no {name!r}"
                assert container(workload)["args"] == [role]
                assert re.search(rf"/notify/{code.directory}:", container(workload)["image"])
        expected = {f"{c.name}-{r}" for c in code_services for r in c.roles if r not in ("all", "migrate")}
        assert {n for n, d in deployments.items() if not is_simulator(d)} == expected, "no stray workloads"


def test_every_consumed_queue_scales_its_consumer(rendered, code_services) -> None:
    for _, objects in apps(rendered):
        scaled = of(objects, "ScaledObject")
        for code in code_services:
            if code.consumed_queues:
                triggers = scaled[f"{code.name}-consumer"]["spec"]["triggers"]
                assert sorted(t["metadata"]["queueName"] for t in triggers) == sorted(code.consumed_queues)
        consumers = {f"{c.name}-consumer" for c in code_services if c.consumed_queues}
        assert set(scaled) == consumers


def test_a_big_job_scales_the_notifications_consumer_out(rendered) -> None:
    """Jobs pause while notifications.requested holds JOB_MAX_QUEUE_DEPTH ready messages (bundles of rows): KEDA must
    add replicas well before that, or the backlog a job builds never reaches the threshold."""
    from notify_jobs.settings import Settings as JobsSettings

    pause_at = JobsSettings().job_max_queue_depth
    for _, objects in apps(rendered):
        triggers = of(objects, "ScaledObject")["notifications-consumer"]["spec"]["triggers"]
        (requested,) = [t for t in triggers if t["metadata"]["queueName"] == "notifications.requested"]
        assert int(requested["metadata"]["value"]) * 3 <= pause_at


def test_the_pinned_kustomize_renders_what_kubectl_renders() -> None:
    """Where kubectl is missing the tests render with the kustomize ``make install`` pins; on a machine with both,
    the two must agree, overlay by overlay."""
    import shutil
    import subprocess

    from .conftest import PINNED_KUSTOMIZE

    kubectl = shutil.which("kubectl")
    if kubectl is None or not PINNED_KUSTOMIZE.exists():
        pytest.skip("needs both kubectl and .tools/bin/kustomize to compare them")
    for overlay in sorted((ROOT / "deploy" / "k8s" / "overlays").iterdir()):
        by_kubectl = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, check=True)
        pinned = subprocess.run(
            [str(PINNED_KUSTOMIZE), "build", str(overlay)], capture_output=True, check=True
        )
        assert by_kubectl.stdout == pinned.stdout, overlay.name


def test_gateway_scales_on_cpu(rendered) -> None:
    for _, objects in apps(rendered):
        hpa = of(objects, "HorizontalPodAutoscaler")["gateway-api"]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway-api"}
        assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
        assert "replicas" not in of(objects, "Deployment")["gateway-api"]["spec"], "the HPA owns replicas"


# --- every pod: hardened, probed, sized ------------------------------------------------------------------
def pod_owners(rendered) -> list[tuple[str, Obj]]:  # type: ignore[no-untyped-def]
    return [(k, o) for k, objects in rendered.items() for o in objects if o["kind"] in ("Deployment", "Job")]


def test_every_pod_is_locked_down(rendered) -> None:
    for overlay, obj in pod_owners(rendered):
        where = f"{overlay}: {obj['kind']}/{obj['metadata']['name']}"
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["automountServiceAccountToken"] is False, where
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), where
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), where
            assert sc.get("runAsUser", 1) != 0, where
            # A read-only root needs a writable /tmp, and it must be an emptyDir.
            (tmp,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
            assert "emptyDir" in volume, where


def test_every_pod_has_requests_and_limits(rendered) -> None:
    for overlay, obj in pod_owners(rendered):
        for c in obj["spec"]["template"]["spec"]["containers"]:
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), (
                    f"{overlay}: {obj['metadata']['name']}"
                )


def test_every_deployment_is_probed_on_its_health_endpoints(rendered, code_services) -> None:
    ports = {c.name: c.port for c in code_services}
    for _, objects in apps(rendered):
        for name, deployment in of(objects, "Deployment").items():
            c = container(deployment)
            live, ready = (
                ("/health", "/health") if is_simulator(deployment) else ("/health/live", "/health/ready")
            )
            assert c["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}, name
            assert c["livenessProbe"]["httpGet"] == {"path": live, "port": "http"}, name
            (port,) = c["ports"]
            assert port["name"] == "http"
            if not is_simulator(deployment):
                service = name.rsplit("-", 1)[0]
                assert port["containerPort"] == ports[service], f"{name}: the service's default port"


def test_every_workload_has_its_own_service_account_service_and_disruption_budget(rendered) -> None:
    for overlay, objects in apps(rendered):
        accounts, services, budgets = (
            of(objects, "ServiceAccount"),
            of(objects, "Service"),
            of(objects, "PodDisruptionBudget"),
        )
        used = []
        for name, deployment in of(objects, "Deployment").items():
            pod = deployment["spec"]["template"]
            used.append(pod["spec"]["serviceAccountName"])
            assert pod["spec"]["serviceAccountName"] in accounts, name
            labels = pod["metadata"]["labels"]
            assert any(s["spec"]["selector"].items() <= labels.items() for s in services.values()), name
            if not is_simulator(deployment):
                assert any(
                    b["spec"]["selector"]["matchLabels"].items() <= labels.items() for b in budgets.values()
                ), f"{overlay}: {name} has no PodDisruptionBudget"
        migrations = of(rendered[f"{overlay}/migrations"], "Job").values()
        used += [j["spec"]["template"]["spec"]["serviceAccountName"] for j in migrations]
        assert len(used) == len(set(used)), "one ServiceAccount per workload"


# --- configuration and secrets ---------------------------------------------------------------------------
def env_sources(obj: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container(obj).get("env", [])}


def test_secrets_are_references_and_each_workload_gets_what_its_settings_need(
    rendered, code_services
) -> None:
    for overlay, objects in rendered.items():
        assert not of(objects, "Secret"), f"{overlay} renders a Secret: secrets are never committed"
        for obj in objects:
            if obj["kind"] not in ("Deployment", "Job") or is_simulator(obj):
                continue
            name = obj["metadata"]["name"]
            code = next(c for c in code_services if name.startswith(f"{c.name}-"))
            env = env_sources(obj)
            needed = {"AMQP_URL", *code.secret_fields}
            needed |= {"NOTIFY_ADMIN_CLIENT_SECRET"} if code.admin_auth else set()
            needed |= {"POSTGRES_URL"} if "migrate" in code.roles else set()
            for key in needed:
                assert key in env, f"{overlay}: {name} lacks {key}"
                ref = env[key].get("valueFrom", {}).get("secretKeyRef")
                assert ref == {"name": SECRET, "key": key}, (
                    f"{overlay}: {name}: {key} must come from {SECRET}"
                )
            assert container(obj)["envFrom"] == [
                {"configMapRef": {"name": of(objects, "ConfigMap").popitem()[0]}}
            ]


def test_no_secret_values_are_committed() -> None:
    for path in [*K8S.rglob("*.yaml"), *K8S.rglob("*.yml")]:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Secret":
                assert not doc.get("data") and not doc.get("stringData"), path
            for generator in (doc or {}).get("secretGenerator", []):
                pytest.fail(f"{path}: secretGenerator {generator.get('name')} would commit secret values")


def test_every_secret_key_is_documented(rendered) -> None:
    readme = (ROOT / "deploy" / "README.md").read_text()
    keys = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for _, obj in pod_owners(rendered)
        for e in container(obj).get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert keys and all(f"`{key}`" in readme for key in keys), sorted(
        k for k in keys if f"`{k}`" not in readme
    )
    assert f"`{SECRET}`" in readme


def test_config(rendered) -> None:
    for overlay, objects in rendered.items():
        (config,) = of(objects, "ConfigMap").values()
        data = config["data"]
        assert data["HTTP_HOST"] == "0.0.0.0"
        assert data["ENVIRONMENT"] == ("production" if overlay.startswith("prod") else "test")
        assert not any(
            re.search(r"(?i)secret|password|://[^/]*:[^/]*@", f"{k}={v}") for k, v in data.items()
        ), "credentials belong in the Secret"
    # The application and its migrations run with the same settings and images.
    for overlay, objects in apps(rendered):
        migrations = rendered[f"{overlay}/migrations"]
        assert of(objects, "ConfigMap").keys() == of(migrations, "ConfigMap").keys()
        images = {container(d)["image"] for d in of(objects, "Deployment").values()}
        assert {container(j)["image"] for j in of(migrations, "Job").values()} <= images


def test_production_images_are_pinned(rendered) -> None:
    for obj in [*rendered["prod"], *rendered["prod/migrations"]]:
        if obj["kind"] in ("Deployment", "Job"):
            image = container(obj)["image"]
            registry_path, _, tag = image.rpartition(":")
            assert "/" in registry_path and tag and tag not in ("latest", "main", "dev"), image


def test_migrations_are_jobs_that_run_once_before_the_rollout(rendered) -> None:
    for overlay, objects in apps(rendered):
        assert not of(objects, "Job"), f"{overlay}: migrations are applied separately, before the application"
        for name, job in of(rendered[f"{overlay}/migrations"], "Job").items():
            spec = job["spec"]
            assert spec["template"]["spec"]["restartPolicy"] == "Never"
            assert spec["backoffLimit"] <= 3 and spec["activeDeadlineSeconds"] > 0
            assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync", name
            assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"
    assert "kubectl wait" in (K8S / "rollout.sh").read_text()


# --- who can reach what ----------------------------------------------------------------------------------
def allowed_callers(objects: list[Obj], pod_labels: dict[str, str]) -> set[str]:
    """The peers the namespace's NetworkPolicies let connect to pods with these labels."""
    peers: set[str] = set()
    for policy in of(objects, "NetworkPolicy").values():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if not selector.items() <= pod_labels.items() or "Ingress" not in policy["spec"]["policyTypes"]:
            continue
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{policy['metadata']['name']}: a rule without `from` allows everyone"
            for peer in rule["from"]:
                assert "ipBlock" not in peer, policy["metadata"]["name"]
                if "namespaceSelector" in peer:
                    peers.add(
                        "namespace:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    )
                else:
                    labels = peer["podSelector"]["matchLabels"]
                    peers.add(f"{labels['app.kubernetes.io/name']}-{labels['app.kubernetes.io/component']}")
    return peers


def test_only_the_gateway_is_reachable_from_outside_and_internal_apis_only_from_it(rendered) -> None:
    for overlay, objects in apps(rendered):
        deny = [
            p
            for p in of(objects, "NetworkPolicy").values()
            if p["spec"]["podSelector"] == {} and p["spec"].get("ingress") is None
        ]
        assert deny, f"{overlay}: no default-deny ingress policy"
        outside, metrics = f"namespace:{INGRESS_NAMESPACE}", "namespace:monitoring"
        for name, deployment in of(objects, "Deployment").items():
            callers = allowed_callers(objects, deployment["spec"]["template"]["metadata"]["labels"]) - {
                metrics
            }
            if name == "gateway-api":
                assert callers == {outside}
            elif name == "delivery-sms-api":  # provider receipts; in dev, from the simulators
                assert callers - {"delivery-sms-sim-mmg", "delivery-sms-sim-firetext"} == {
                    "gateway-api",
                    outside,
                }
            elif name == "delivery-email-api":  # the SMTP relay's receipts
                assert callers == {"gateway-api", outside}
            elif name == "notifications-api":  # jobs reads services, templates and users there
                assert callers == {"gateway-api", "jobs-api", "jobs-consumer"}, f"{overlay}: {callers}"
            elif name.endswith("-api"):
                assert callers == {"gateway-api"}, f"{overlay}: {name} callable by {callers}"
            elif is_simulator(deployment):
                assert callers == {"delivery-sms-api", "delivery-sms-consumer"}
            else:
                assert callers == set(), f"{overlay}: {name} (a consumer) accepts connections from {callers}"


def test_the_ingress_exposes_the_gateway_and_delivery_receipts_only(rendered) -> None:
    for _, objects in apps(rendered):
        (ingress,) = of(objects, "Ingress").values()
        backends = {
            path["path"]: path["backend"]["service"]["name"]
            for rule in ingress["spec"]["rules"]
            for path in rule["http"]["paths"]
        }
        assert backends == {
            "/": "gateway-api",
            "/notifications/sms": "delivery-sms-api",
            "/notifications/email": "delivery-email-api",
        }
        assert ingress["spec"]["tls"], "TLS terminates at the ingress"
