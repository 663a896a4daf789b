"""deploy/k8s's Kafka cluster and what keeps the services available: three KRaft nodes whose start command really
gives each pod the node id and name the quorum expects, the topic job ordered before every service, two replicas
and a disruption budget per Deployment."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from .manifests import K8S_DIR, k8s_documents

DOCS = [d for p, d in k8s_documents() if p != K8S_DIR / "kustomization.yaml"]


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in DOCS if d.get("kind") == kind}


KAFKA = objects("StatefulSet")["kafka"]
KAFKA_POD = KAFKA["spec"]["template"]["spec"]
(BROKER,) = KAFKA_POD["containers"]
BROKER_ENV = {e["name"]: e["value"] for e in BROKER["env"]}
DEPLOYMENTS = objects("Deployment")
OFFERFLOW = {n: d for n, d in DEPLOYMENTS.items() if n != "mailpit"}
CONFIG = objects("ConfigMap")["offerflow-config"]["data"]
RUN = "exec /etc/kafka/docker/run"


def started_as(ordinal: int) -> dict[str, str]:
    """The variables the broker's start command exports in pod kafka-<ordinal>: the command itself is run by a
    POSIX shell, with the image's start script replaced by printing them."""
    script = BROKER["command"][2]
    assert BROKER["command"][:2] == ["sh", "-c"] and script.endswith(RUN)
    probe = script.removesuffix(RUN) + 'printf "%s\\n%s\\n" "$KAFKA_NODE_ID" "$KAFKA_ADVERTISED_LISTENERS"'
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": f"{KAFKA['metadata']['name']}-{ordinal}"}
    out = subprocess.run(["sh", "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.split()
    return {"KAFKA_NODE_ID": out[0], "KAFKA_ADVERTISED_LISTENERS": out[1]}


def test_three_combined_nodes_form_one_quorum() -> None:
    spec = KAFKA["spec"]
    assert spec["replicas"] == 3 and spec["podManagementPolicy"] == "Parallel"
    assert set(BROKER_ENV["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    service = objects("Service")[spec["serviceName"]]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    voters = dict(v.split("@") for v in BROKER_ENV["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
    assert len(voters) == 3
    for ordinal in range(spec["replicas"]):
        started = started_as(ordinal)
        host = f"{KAFKA['metadata']['name']}-{ordinal}.{spec['serviceName']}"
        # The node id a pod takes is the one the voter list gives its name, and it advertises that same name.
        assert voters[started["KAFKA_NODE_ID"]] == f"{host}:9093", ordinal
        assert started["KAFKA_ADVERTISED_LISTENERS"] == f"INTERNAL://{host}:9092", ordinal
    assert "CONTROLLER://:9093" in BROKER_ENV["KAFKA_LISTENERS"]
    assert {p["containerPort"] for p in BROKER["ports"]} == {9092, 9093}
    assert KAFKA_POD["enableServiceLinks"] is False, "KAFKA_PORT=tcp://… would be read as a broker setting"


def test_the_cluster_never_loses_an_acknowledged_event_to_one_failure() -> None:
    assert BROKER_ENV["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3" and BROKER_ENV["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert BROKER_ENV["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    assert BROKER_ENV["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert BROKER_ENV["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert BROKER_ENV["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    (claim,) = KAFKA["spec"]["volumeClaimTemplates"]
    assert {m["name"]: m["mountPath"] for m in BROKER["volumeMounts"]} == {claim["metadata"]["name"]:
                                                                          "/var/lib/kafka/data"}
    assert BROKER_ENV["KAFKA_LOG_DIRS"].startswith("/var/lib/kafka/data/")


def test_services_bootstrap_from_every_node() -> None:
    spec = KAFKA["spec"]
    nodes = {f"{KAFKA['metadata']['name']}-{i}.{spec['serviceName']}:9092" for i in range(spec["replicas"])}
    assert set(CONFIG["OFFERFLOW_KAFKA_BOOTSTRAP"].split(",")) == nodes
    assert CONFIG["OFFERFLOW_KAFKA_REPLICATION_FACTOR"] == "3"


@pytest.mark.parametrize("name", sorted(OFFERFLOW))
def test_the_topic_job_precedes_every_service(name: str) -> None:
    """Kubernetes starts everything at once: each service pod's init container waits (creating nothing) until the
    topic job has made every topic, and runs with the same image and Kafka settings as the job."""
    job = objects("Job")["offerflow-topics-init"]["spec"]["template"]["spec"]
    (job_container,) = job["containers"]
    assert "--check" not in job_container["command"]
    pod = DEPLOYMENTS[name]["spec"]["template"]["spec"]
    (wait,) = pod["initContainers"]
    assert wait["command"][:2] == job_container["command"][:2] == ["python", "deploy/compose/create_topics.py"]
    assert "--check" in wait["command"]
    assert wait["image"] == job_container["image"] == pod["containers"][0]["image"]
    assert wait["envFrom"] == job_container["envFrom"] == [{"configMapRef": {"name": "offerflow-config"}}]


@pytest.mark.parametrize("name", sorted(OFFERFLOW))
def test_every_service_runs_two_replicas(name: str) -> None:
    assert DEPLOYMENTS[name]["spec"]["replicas"] == 2


def test_a_disruption_budget_covers_every_workload() -> None:
    budgets = objects("PodDisruptionBudget")
    covered: dict[str, dict[str, Any]] = {}
    for budget in budgets.values():
        selector = budget["spec"]["selector"]["matchLabels"]
        for name, workload in {**DEPLOYMENTS, "kafka": KAFKA}.items():
            if selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items():
                assert name not in covered, f"{name} has two budgets"
                covered[name] = budget["spec"]
    assert set(covered) == set(DEPLOYMENTS) | {"kafka"}
    for name in OFFERFLOW:
        assert covered[name] == {"minAvailable": 1, "selector": covered[name]["selector"]}, name
        # minAvailable 1 of a single pod would block every node drain.
        assert DEPLOYMENTS[name]["spec"]["replicas"] > 1, name
    assert covered["kafka"]["maxUnavailable"] == 1 and "minAvailable" not in covered["kafka"]


def test_the_topic_job_waits_for_the_whole_cluster() -> None:
    command = objects("Job")["offerflow-topics-init"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert int(command[command.index("--replication-factor") + 1]) == KAFKA["spec"]["replicas"]
    assert int(command[command.index("--min-insync-replicas") + 1]) == int(BROKER_ENV["KAFKA_MIN_INSYNC_REPLICAS"])
