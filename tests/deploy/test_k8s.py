"""deploy/k8s checked offline: every document against the Kubernetes JSON schemas bundled with
kubernetes-validate (strict: unknown fields fail), then what a schema cannot see: references between
objects, env names that are real settings, probes on declared ports, the security context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from .manifests import K8S_DIR, k8s_documents, settings_from
from .workspace import EMBEDDED, NEEDS, RUNTIME_ENV, known_names, service_scripts

DOCS = k8s_documents()
KUSTOMIZATION = K8S_DIR / "kustomization.yaml"
SECRET_TEMPLATE = K8S_DIR / "secret.example.yaml"


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for p, d in DOCS if d.get("kind") == kind and p != KUSTOMIZATION}


DEPLOYMENTS = objects("Deployment")
CONFIG = objects("ConfigMap")["offerflow-config"]["data"]
SECRET = objects("Secret")["offerflow-secrets"]["stringData"]


def container(name: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = DEPLOYMENTS[name]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def script_of(c: dict[str, Any]) -> str:
    command = c["command"]
    if command[:2] == ["python", "-c"] and "offerflow_notifier import sink" in command[2]:
        return "offerflow-mailsink"
    return str(command[0])


def env_of(c: dict[str, Any]) -> dict[str, str]:
    """The variables the container gets: the ConfigMap, then the Secret's placeholders."""
    env = dict(CONFIG) if {"configMapRef": {"name": "offerflow-config"}} in c.get("envFrom", []) else {}
    for item in c.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        env[item["name"]] = SECRET[ref["key"]] if ref else item["value"]
    return env


@pytest.mark.parametrize(
    ("path", "doc"),
    [(p, d) for p, d in DOCS if p != KUSTOMIZATION],
    ids=lambda v: v.name if isinstance(v, Path) else v.get("kind", "?"),
)
def test_schema(path: Path, doc: dict[str, Any]) -> None:
    version = kubernetes_validate.latest_version()
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(
            f"{path.name}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}"
        )


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {KUSTOMIZATION.name, SECRET_TEMPLATE.name}
    assert listed == on_disk
    assert kustomization["namespace"] == objects("Namespace")["offerflow"]["metadata"]["name"]
    assert {i["name"] for i in kustomization["images"]} == {"offerflow", "offerflow-devsink"}


def test_secret_template_holds_placeholders_only() -> None:
    assert SECRET and all("REPLACE_ME" in value for value in SECRET.values())
    assert not set(SECRET) & set(CONFIG), "a variable is both secret and plain config"


def test_every_process_has_a_deployment() -> None:
    assert {script_of(container(n)) for n in DEPLOYMENTS} | set(EMBEDDED) == set(service_scripts())
    for name in DEPLOYMENTS:
        # The development mail sink runs the services' Dockerfile built with the devsink group.
        image = "offerflow-devsink:latest" if script_of(container(name)) == "offerflow-mailsink" else "offerflow:latest"
        assert container(name)["image"] == image, name


@pytest.mark.parametrize("script", sorted(EMBEDDED))
def test_processes_without_a_deployment_run_inside_their_host(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    host, flag = EMBEDDED[script]
    hosts = [n for n in DEPLOYMENTS if script_of(container(n)) == host]
    assert hosts, f"{script} runs inside {host}, which has no deployment"
    for name in hosts:
        assert getattr(settings_from(host, env_of(container(name)), monkeypatch), flag) is True, name


def test_every_process_runs_as_production() -> None:
    assert CONFIG["OFFERFLOW_ENVIRONMENT"] == "production"
    assert not CONFIG.get("OFFERFLOW_ALLOW_UNSAFE") and "OFFERFLOW_ALLOW_UNSAFE" not in SECRET
    for name in DEPLOYMENTS:
        assert "OFFERFLOW_ENVIRONMENT" not in {e["name"] for e in container(name).get("env", [])}, name


def test_every_variable_is_a_real_setting() -> None:
    known = known_names() | RUNTIME_ENV
    assert set(CONFIG) <= known, sorted(set(CONFIG) - known)
    assert set(SECRET) <= known, sorted(set(SECRET) - known)
    for name in DEPLOYMENTS:
        assert {e["name"] for e in container(name).get("env", [])} <= known, name


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_each_process_gets_what_it_needs_and_it_validates(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    c = container(name)
    script = script_of(c)
    env = env_of(c)
    assert not NEEDS[script].names - set(env), f"{name} lacks {sorted(NEEDS[script].names - set(env))}"
    for item in c.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == "offerflow-secrets" and ref["key"] in SECRET
    settings_from(script, env, monkeypatch)


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_probes_hit_the_process_web_port(name: str) -> None:
    c = container(name)
    script = script_of(c)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert str(ports[get["port"]]) == env_of(c)[NEEDS[script].web_port], f"{name} {probe}"
    if script == "offerflow-status-api":
        assert (c["livenessProbe"]["httpGet"]["path"], c["readinessProbe"]["httpGet"]["path"]) == (
            "/healthz",
            "/readyz",
        )


def test_status_api_serves_its_probe_paths() -> None:
    from offerflow_status_api.api.app import create_app

    async def no_resources(app: Any) -> Any:
        raise AssertionError("the lifespan must not run here")

    paths = {getattr(r, "path", None) for r in create_app(no_resources).routes}
    assert {"/healthz", "/readyz"} <= paths


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_pods_run_unprivileged_with_a_read_only_root(name: str) -> None:
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    c = container(name)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["enableServiceLinks"] is False
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(c["resources"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "Faust and tempfile need a writable /tmp"
    for claim in (
        v["persistentVolumeClaim"]["claimName"] for v in volumes.values() if "persistentVolumeClaim" in v
    ):
        assert claim in objects("PersistentVolumeClaim")
    for var in (
        "OFFERFLOW_PROVISIONING_STORAGE_ROOT",
        "OFFERFLOW_PACKAGING_PAGES_ROOT",
        "OFFERFLOW_CERTIFICATION_SPOOL_DIR",
        "OFFERFLOW_MAILSINK_DIR",
    ):
        if var in CONFIG and var.split("_")[1].lower() == name:  # OFFERFLOW_<SERVICE>_…
            assert CONFIG[var] in mounts, f"{name} writes {CONFIG[var]} on the read-only root"


def test_services_select_pods_and_ports_that_exist() -> None:
    for name, svc in objects("Service").items():
        if svc["spec"].get("type") == "ExternalName":
            assert CONFIG["OFFERFLOW_KAFKA_BOOTSTRAP"].split(":")[0] == name
            continue
        targets = [
            d
            for d in DEPLOYMENTS.values()
            if svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, f"Service {name} selects {len(targets)} Deployments"
        port_names = {
            p["name"] for c in targets[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]
        }
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= port_names, name
    assert {"status-api", "storefront", "mailsink", "kafka"} <= set(objects("Service"))


def test_topics_init_job_runs_the_shared_script() -> None:
    job = objects("Job")["offerflow-topics-init"]["spec"]["template"]["spec"]
    command = job["containers"][0]["command"]
    assert command[:2] == ["python", "deploy/compose/create_topics.py"]
    assert command[command.index("--replication-factor") + 1] == "3"
    assert job["securityContext"]["runAsNonRoot"] is True
