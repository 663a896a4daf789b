"""deploy/k8s checked offline: every document against the Kubernetes JSON schemas bundled with
kubernetes-validate (strict: unknown fields fail), then what a schema cannot see: references between
objects, env names that are real settings, probes on declared ports, the security context."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from offerflow_shared.regionmap import RegionMap

from .manifests import K8S_DIR, k8s_documents, settings_from, with_files
from .workspace import (
    DEFAULT_REGIONS,
    EMBEDDED,
    NEEDS,
    NOT_DEPLOYED,
    RUNTIME_ENV,
    known_names,
    service_scripts,
    workspace_version,
)

DOCS = k8s_documents()
KUSTOMIZATION = K8S_DIR / "kustomization.yaml"
SECRET_TEMPLATE = K8S_DIR / "secret.example.yaml"
REGIONS_TEMPLATE = K8S_DIR / "regions.example.yaml"
# Secrets made by hand from these templates, never by `apply -k` (which would overwrite the real ones).
TEMPLATES = {SECRET_TEMPLATE.name, REGIONS_TEMPLATE.name}


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for p, d in DOCS if d.get("kind") == kind and p != KUSTOMIZATION}


DEPLOYMENTS = objects("Deployment")
IMAGE = f"offerflow:{workspace_version()}"
# The Deployments running an Offerflow process (the services' image); the other one is Mailpit, the dev mail sink.
OFFERFLOW = sorted(
    n for n, d in DEPLOYMENTS.items() if d["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
)
CONFIG = objects("ConfigMap")["offerflow-config"]["data"]
SECRET = objects("Secret")["offerflow-secrets"]["stringData"]
REGIONS = objects("Secret")["offerflow-regions"]["stringData"]


def container(name: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = DEPLOYMENTS[name]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def script_of(c: dict[str, Any]) -> str:
    return str(c["command"][0])


def mounted_files(name: str) -> dict[str, str]:
    """Container path -> content of every file the deployment mounts from a Secret template."""
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    files: dict[str, str] = {}
    for mount in container(name)["volumeMounts"]:
        if mount["name"] in secrets:
            volume = secrets[mount["name"]]
            data = objects("Secret")[volume["secretName"]]["stringData"]
            items = volume.get("items") or [{"key": k, "path": k} for k in data]
            files |= {f"{mount['mountPath'].rstrip('/')}/{i['path']}": data[i["key"]] for i in items}
    return files


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
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {KUSTOMIZATION.name} - TEMPLATES
    assert listed == on_disk
    assert kustomization["namespace"] == objects("Namespace")["offerflow"]["metadata"]["name"]
    # Every image the manifests name is listed, with the manifests' own tag (a release at `set image` time).
    used = {c["image"] for _, d in DOCS for c in _containers(d)}
    listed_images = {f"{i['name']}:{i['newTag']}" for i in kustomization["images"]}
    assert used == listed_images, (sorted(used), sorted(listed_images))


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    return list(pod.get("initContainers", [])) + list(pod.get("containers", []))


def test_every_image_is_pinned_by_tag() -> None:
    """A named release for every image, never `latest`; no digest placeholder (digests are set at release time)."""
    for path, doc in DOCS:
        for c in _containers(doc):
            tag = c["image"].rpartition(":")[2]
            assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?", tag), f"{path.name}: {c['image']} is not a release"
            assert "@" not in c["image"], f"{path.name}: digests are set in kustomization.yaml at release time"
    for image in yaml.safe_load(KUSTOMIZATION.read_text())["images"]:
        assert "digest" not in image or re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"]), image


def test_secret_template_holds_placeholders_only() -> None:
    assert SECRET and all("REPLACE_ME" in value for value in SECRET.values())
    assert not set(SECRET) & set(CONFIG), "a variable is both secret and plain config"
    assert set(REGIONS) == {"regions.json"}
    for region in json.loads(REGIONS["regions.json"])["regions"]:
        assert region["access_key_id"] == region["secret_access_key"] == "REPLACE_ME", region["name"]


def test_region_map_template_names_https_placeholders_in_every_default_region() -> None:
    regions = RegionMap.model_validate_json(REGIONS["regions.json"]).regions
    assert [r.name for r in regions] == DEFAULT_REGIONS
    for r in regions:
        url = urlsplit(r.endpoint_url or "")
        # https only (production refuses http://), and a placeholder host no one can mistake for a real one.
        assert url.scheme == "https" and (url.hostname or "").endswith(".example.com"), r.name
        assert r.bucket == f"offerflow-{r.name}" and r.ca_file is None


@pytest.mark.parametrize("name", ["provisioning", "staging"])
def test_region_map_secret_is_mounted_read_only_where_the_configmap_names_it(name: str) -> None:
    path = CONFIG[f"OFFERFLOW_{name.upper()}_REGION_MAP_FILE"]
    assert mounted_files(name)[path] == REGIONS["regions.json"]
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "offerflow-regions"]
    (mount,) = [m for m in container(name)["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    # Credentials: readable by the pod's group (fsGroup), not by every user.
    assert volume["secret"]["defaultMode"] & 0o007 == 0 and pod["securityContext"]["fsGroup"] == 10001
    for other in set(DEPLOYMENTS) - {"provisioning", "staging"}:
        assert path not in mounted_files(other), f"{other} gets the region map's credentials"
    assert "offerflow-regions" not in objects("PersistentVolumeClaim"), "replicas live in object stores now"


def test_every_process_has_a_deployment() -> None:
    running = {script_of(container(n)) for n in OFFERFLOW}
    assert running | set(EMBEDDED) | set(NOT_DEPLOYED) == set(service_scripts())
    assert not running & set(NOT_DEPLOYED)
    assert set(DEPLOYMENTS) - set(OFFERFLOW) == {"mailpit"}
    assert container("mailpit")["image"].startswith("axllent/mailpit:v")


@pytest.mark.parametrize("script", sorted(EMBEDDED))
def test_processes_without_a_deployment_run_inside_their_host(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    host, flag = EMBEDDED[script]
    hosts = [n for n in OFFERFLOW if script_of(container(n)) == host]
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
    for name in OFFERFLOW:
        assert {e["name"] for e in container(name).get("env", [])} <= known, name


@pytest.mark.parametrize("name", OFFERFLOW)
def test_each_process_gets_what_it_needs_and_it_validates(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    c = container(name)
    script = script_of(c)
    env = env_of(c)
    assert not NEEDS[script].names - set(env), f"{name} lacks {sorted(NEEDS[script].names - set(env))}"
    for item in c.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == "offerflow-secrets" and ref["key"] in SECRET
    settings_from(script, with_files(env, mounted_files(name), tmp_path), monkeypatch)


@pytest.mark.parametrize("name", OFFERFLOW)
def test_probes_hit_the_process_web_port(name: str) -> None:
    c = container(name)
    script = script_of(c)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert str(ports[get["port"]]) == env_of(c)[NEEDS[script].web_port], f"{name} {probe}"


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
    for one in [c, *pod.get("initContainers", [])]:
        sc = one["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, one["name"]
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert {"requests", "limits"} <= set(one["resources"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "Faust and tempfile need a writable /tmp"
    for claim in (
        v["persistentVolumeClaim"]["claimName"] for v in volumes.values() if "persistentVolumeClaim" in v
    ):
        assert claim in objects("PersistentVolumeClaim")
    for var in (
        "OFFERFLOW_PACKAGING_PAGES_ROOT",
        "OFFERFLOW_CERTIFICATION_SPOOL_DIR",
        "OFFERFLOW_MAILSINK_DIR",
        "OFFERFLOW_STAGING_WORK_DIR",
    ):
        if var in CONFIG and var.split("_")[1].lower() == name:  # OFFERFLOW_<SERVICE>_…
            assert CONFIG[var] in mounts, f"{name} writes {CONFIG[var]} on the read-only root"


def test_services_select_pods_and_ports_that_exist() -> None:
    workloads = [*DEPLOYMENTS.values(), *objects("StatefulSet").values()]
    for name, svc in objects("Service").items():
        targets = [
            d
            for d in workloads
            if svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, f"Service {name} selects {len(targets)} workloads"
        port_names = {
            p["name"] for c in targets[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]
        }
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= port_names, name
    assert {"status-api", "storefront", "mailpit", "kafka"} <= set(objects("Service"))


def test_topics_init_job_runs_the_shared_script() -> None:
    job = objects("Job")["offerflow-topics-init"]["spec"]["template"]["spec"]
    command = job["containers"][0]["command"]
    assert command[:2] == ["python", "deploy/compose/create_topics.py"]
    assert command[command.index("--replication-factor") + 1] == "3"
    assert job["securityContext"]["runAsNonRoot"] is True
