"""deploy/compose/compose.yaml checked offline: structure, commands, env, health, the Kafka quorum."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from offerflow_contract.topics import all_topic_names
from offerflow_provisioning.settings import Settings as ProvisioningSettings
from offerflow_shared.regionmap import RegionMap

from .manifests import (
    COMPOSE_DIR,
    env_file,
    environment,
    interpolate,
    load_compose,
    settings_from,
    variables,
    with_files,
)
from .workspace import (
    DEFAULT_REGIONS,
    DEPLOY,
    EMBEDDED,
    NEEDS,
    NOT_DEPLOYED,
    ROOT,
    RUNTIME_ENV,
    VERSITYGW_VERSION,
    known_names,
    service_scripts,
)

ENV_EXAMPLE = env_file(COMPOSE_DIR / ".env.example")
COMPOSE = load_compose(ENV_EXAMPLE)
SERVICES: dict[str, Any] = COMPOSE["services"]
BROKERS = {
    name: svc for name, svc in SERVICES.items() if str(svc.get("image", "")).startswith("apache/kafka:")
}
OBJECT_STORES = {
    name: svc for name, svc in SERVICES.items() if str(svc.get("image", "")).startswith("versity/versitygw:")
}
CONFIGS: dict[str, Any] = COMPOSE.get("configs") or {}
REGION_MAP = RegionMap.model_validate_json(CONFIGS["regions"]["content"])
# The services' image (deploy/Dockerfile).
OFFERFLOW = {name: svc for name, svc in SERVICES.items() if str(svc.get("image", "")).startswith("offerflow:")}


def script_of(service: dict[str, Any]) -> str | None:
    """The console script a container runs."""
    command = service.get("command") or []
    if command and command[0] in service_scripts():
        return str(command[0])
    return None


def long_running() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in OFFERFLOW.items() if script_of(s) is not None}


def mounted_configs(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> content of every inline config the service mounts."""
    return {c["target"]: CONFIGS[c["source"]]["content"] for c in service.get("configs") or []}


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_every_required_variable_has_a_value_in_env_example() -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    for name, op, _arg in variables(text):
        if op not in ("-", ":-"):
            assert ENV_EXAMPLE.get(name), f"${{{name}}} is required but missing from .env.example"
    with pytest.raises(KeyError):  # no silent empty secret when the env file is missing
        interpolate(text, {})


def test_env_example_holds_no_real_secret() -> None:
    for name in ("OFFERFLOW_SECRETS_KEY", "OFFERFLOW_STATUS_API_ADMIN_TOKEN", "POSTGRES_PASSWORD",
                 "POSTGRES_OWNER_PASSWORD", "POSTGRES_APP_PASSWORD",
                 "OBJECTSTORE_ACCESS_KEY_ID", "OBJECTSTORE_SECRET_ACCESS_KEY"):
        assert re.fullmatch(r"(change-me|replace-with-.*)", ENV_EXAMPLE[name]), name
    assert (ROOT / ".dockerignore").read_text().count("deploy/compose/.env") == 1


def test_every_service_process_of_the_workspace_runs() -> None:
    running = {script_of(s) for s in long_running().values()}
    assert running | set(EMBEDDED) | set(NOT_DEPLOYED) == set(service_scripts()), (
        "a console script under services/ has no compose service")
    assert not running & set(NOT_DEPLOYED)


@pytest.mark.parametrize("script", sorted(EMBEDDED))
def test_processes_without_a_service_run_inside_their_host(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    host, flag = EMBEDDED[script]
    hosts = [s for s in long_running().values() if script_of(s) == host]
    assert hosts, f"{script} runs inside {host}, which has no compose service"
    for svc in hosts:
        assert getattr(settings_from(host, environment(svc), monkeypatch), flag) is True, f"{host} turns off {flag}"


def test_images_build_from_the_repository_dockerfile() -> None:
    for name, svc in OFFERFLOW.items():
        build = svc["build"]
        assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile", name
    assert set(SERVICES) == set(BROKERS) | set(OFFERFLOW) | set(OBJECT_STORES) | {"postgres", "mailpit"}
    assert re.fullmatch(r"15\.\d+", SERVICES["postgres"]["image"].split(":")[1]), "PostgreSQL 15, a pinned minor"


def test_python_commands_run_real_code() -> None:
    for name, svc in OFFERFLOW.items():
        command = svc["command"]
        if command[:2] == ["python", "-c"]:
            compile(command[2], name, "exec")
        elif command[0] == "python":
            assert (ROOT / command[1]).is_file(), f"{name}: the image has no {command[1]}"
        else:
            assert command[0] in service_scripts(), f"{name}: {command[0]} is no console script"


def test_no_image_carries_the_sink_libraries() -> None:
    for name, svc in OFFERFLOW.items():
        assert not svc["build"].get("args"), f"{name} builds another image"


@pytest.mark.parametrize("name", sorted(long_running()))
def test_every_process_runs_as_production(name: str) -> None:
    env = environment(SERVICES[name])
    assert env["OFFERFLOW_ENVIRONMENT"] == "production", name
    kept = {n for n in env.get("OFFERFLOW_ALLOW_UNSAFE", "").split(",") if n}
    # Provisioning and staging keep exactly their region map (http inside the compose network); nothing else is
    # relaxed (staging's boot check stays enforced).
    maps = {"provisioning": {"OFFERFLOW_PROVISIONING_REGION_MAP_FILE"},
            "staging": {"OFFERFLOW_STAGING_REGION_MAP_FILE"}}
    assert kept == maps.get(name, set()), name


def test_every_variable_is_a_real_setting() -> None:
    known = known_names()
    for name, svc in OFFERFLOW.items():
        unknown = {v for v in environment(svc) if v not in known and v not in RUNTIME_ENV}
        assert not unknown, f"{name} sets variables no process reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(long_running()))
def test_each_process_gets_what_it_needs_and_it_validates(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    svc = SERVICES[name]
    script = script_of(svc)
    assert script is not None
    env = environment(svc)
    missing = NEEDS[script].names - set(env)
    assert not missing, f"{name} lacks {sorted(missing)}"
    settings_from(script, with_files(env, mounted_configs(svc), tmp_path), monkeypatch)


def test_every_region_in_the_map_has_its_own_object_store() -> None:
    assert [r.name for r in REGION_MAP.regions] == DEFAULT_REGIONS
    served: dict[str, str] = {}
    for r in REGION_MAP.regions:
        url = urlsplit(r.endpoint_url or "")
        svc = OBJECT_STORES.get(url.hostname or "")
        assert svc is not None, f"{r.name}: no object-store service named {url.hostname}"
        command, env = svc["command"], environment(svc)
        assert flag(command, "--region") == r.signing_region == r.name
        assert flag(command, "--port").rsplit(":", 1)[1] == str(url.port)
        assert command[-2:] == ["posix", "/data"] and svc["volumes"] == [f"{url.hostname}:/data"]
        assert (env["ROOT_ACCESS_KEY_ID"], env["ROOT_SECRET_ACCESS_KEY"]) == (
            r.access_key_id,
            r.secret_access_key.get_secret_value() if r.secret_access_key else None,
        ), f"{r.name}: the map's credentials are not the server's"
        served[str(url.hostname)] = r.name
    assert set(served) == set(OBJECT_STORES), "an object store serves no region of the map"
    for name, svc in OBJECT_STORES.items():
        assert svc["image"] == f"versity/versitygw:{VERSITYGW_VERSION}", name
        assert "ports" not in svc, f"{name} is published: its http must stay inside the compose network"
        assert flag(svc["command"], "--health") in " ".join(svc["healthcheck"]["test"]), name
    # Credentials come from .env, never from the file in git.
    assert "${OBJECTSTORE_SECRET_ACCESS_KEY}" in (COMPOSE_DIR / "compose.yaml").read_text()


def test_provisioning_staging_and_the_bucket_job_read_the_same_map() -> None:
    for name, variable in (("provisioning", "OFFERFLOW_PROVISIONING_REGION_MAP_FILE"),
                           ("buckets-init", "OFFERFLOW_PROVISIONING_REGION_MAP_FILE"),
                           ("staging", "OFFERFLOW_STAGING_REGION_MAP_FILE")):
        svc = SERVICES[name]
        path = environment(svc)[variable]
        assert mounted_configs(svc) == {path: CONFIGS["regions"]["content"]}, name
    assert SERVICES["buckets-init"]["command"] == ["python", "deploy/compose/create_buckets.py"]
    assert set(SERVICES["buckets-init"]["depends_on"]) == set(OBJECT_STORES)
    assert SERVICES["provisioning"]["depends_on"]["buckets-init"]["condition"] == "service_completed_successfully"
    assert SERVICES["staging"]["depends_on"]["buckets-init"]["condition"] == "service_completed_successfully"
    assert [n for n, s in SERVICES.items() if s.get("configs")] == ["buckets-init", "provisioning", "staging"]


def test_production_refuses_the_compose_map_without_the_allowance(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The allowance is needed and names the right variable: without it the map's http endpoints stop the start."""
    svc = SERVICES["provisioning"]
    env = with_files(environment(svc), mounted_configs(svc), tmp_path)
    assert settings_from("offerflow-provisioning", env, monkeypatch) is not None
    monkeypatch.setenv("OFFERFLOW_ALLOW_UNSAFE", "")
    with pytest.raises(ValidationError, match="OFFERFLOW_PROVISIONING_REGION_MAP_FILE="):
        ProvisioningSettings()


@pytest.mark.parametrize("name", sorted(long_running()))
def test_healthchecks_probe_the_web_port_of_the_process(name: str) -> None:
    svc = SERVICES[name]
    script = script_of(svc)
    assert script is not None
    port = environment(svc)[NEEDS[script].web_port]
    probe = " ".join(svc["healthcheck"]["test"])
    # /readyz of every process (offerflow_shared.ops, the status-api's own): what test_probes.py finds they serve.
    assert f"http://127.0.0.1:{port}/readyz'" in probe, f"{name} probes another port than {port} or another path"
    assert svc["restart"] == "unless-stopped"


def test_three_brokers_form_one_kraft_quorum() -> None:
    assert len(BROKERS) == 3
    envs = {name: environment(svc) for name, svc in BROKERS.items()}
    ids = {env["KAFKA_NODE_ID"] for env in envs.values()}
    assert len(ids) == 3
    assert len({env["CLUSTER_ID"] for env in envs.values()}) == 1
    voters = {env["KAFKA_CONTROLLER_QUORUM_VOTERS"] for env in envs.values()}
    assert len(voters) == 1
    expected = {
        f"{env['KAFKA_NODE_ID']}@{svc['hostname']}:9093"
        for svc, env in ((BROKERS[n], envs[n]) for n in BROKERS)
    }
    assert set(voters.pop().split(",")) == expected
    for name, env in envs.items():
        assert BROKERS[name]["hostname"] == name
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"]
        assert f"INTERNAL://{name}:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
        assert (
            int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == 3 and int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2
        )
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert "healthcheck" in BROKERS[name]


def test_services_bootstrap_from_all_three_brokers() -> None:
    brokers = {f"{name}:9092" for name in BROKERS}
    for name, svc in OFFERFLOW.items():
        bootstrap = environment(svc).get("OFFERFLOW_KAFKA_BOOTSTRAP")
        if bootstrap is not None:
            assert set(bootstrap.split(",")) == brokers, name


def test_topics_init_replicates_to_the_quorum() -> None:
    args = shlex.split(" ".join(SERVICES["topics-init"]["command"]))
    rf = int(args[args.index("--replication-factor") + 1])
    isr = int(args[args.index("--min-insync-replicas") + 1])
    assert (rf, isr) == (3, 2) and rf <= len(BROKERS)
    assert SERVICES["topics-init"]["restart"] == "no"
    assert set(all_topic_names())  # the job reads the contract, so there is no list here to drift


def test_depends_on_uses_conditions_that_can_be_met() -> None:
    for name, svc in SERVICES.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{dep} has no healthcheck for {name} to wait on"
            else:
                assert condition == "service_completed_successfully" and SERVICES[dep]["restart"] == "no"
    for name in long_running():
        assert SERVICES[name]["depends_on"]["topics-init"] == {"condition": "service_completed_successfully"}, name
    assert set(SERVICES["topics-init"]["depends_on"]) == set(BROKERS)


def test_replicated_services_publish_no_fixed_host_port() -> None:
    replicated = [n for n, s in SERVICES.items() if (s.get("deploy") or {}).get("replicas", 1) > 1]
    assert {"certification", "provisioning"} <= set(replicated)
    for name in replicated:
        assert "ports" not in SERVICES[name] and "container_name" not in SERVICES[name], name


def test_volumes_are_declared_and_storage_goes_to_them() -> None:
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):  # a file of the repository (the database's roles): read-only, never storage
                assert volume.endswith(":ro") and (COMPOSE_DIR / source).is_file(), f"{name} mounts {volume}"
                continue
            assert source in COMPOSE["volumes"], f"{name} mounts undeclared volume {source}"
    for name, var in (
        ("packaging", "OFFERFLOW_PACKAGING_PAGES_ROOT"),
        ("mailpit", "MP_DATABASE"),
    ):
        target = environment(SERVICES[name])[var]
        target = target.rsplit("/", 1)[0] if var == "MP_DATABASE" else target
        assert any(v.endswith(":" + target) for v in SERVICES[name]["volumes"]), (
            f"{name}: {target} is no volume"
        )
