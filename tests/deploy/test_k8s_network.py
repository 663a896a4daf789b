"""deploy/k8s/networkpolicy.yaml read as the cluster's network plugin would: which pod may open connections where.
Only the services that fetch what offers name (found from their code) reach the internet; every other pod reaches
DNS, Kafka, PostgreSQL and SMTP inside the cluster's private network only."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from .manifests import K8S_DIR, k8s_documents
from .workspace import fetching_services

DOCS = [d for p, d in k8s_documents() if p != K8S_DIR / "kustomization.yaml"]
POLICIES = [d for d in DOCS if d["kind"] == "NetworkPolicy"]
# Every pod template of the kustomization: name -> its labels.
PODS: dict[str, dict[str, str]] = {
    d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
    for d in DOCS
    if d["kind"] in ("Deployment", "StatefulSet", "Job")
}
EVERYWHERE = {ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")}
PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
# Where the cloud's metadata endpoint and other never-public ranges live: refused to the fetchers as well.
NEVER = [ipaddress.ip_network(n) for n in ("169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels", "matchExpressions"}, selector
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        value, op = labels.get(expr["key"]), expr["operator"]
        ok = {"In": value in expr.get("values", []), "NotIn": value not in expr.get("values", []),
              "Exists": value is not None, "DoesNotExist": value is None}[op]
        if not ok:
            return False
    return True


def egress_rules(pod: str) -> list[dict[str, Any]]:
    """Every egress rule that applies to ``pod`` (policies add up)."""
    return [rule for p in POLICIES if "Egress" in p["spec"]["policyTypes"]
            and selects(p["spec"]["podSelector"], PODS[pod]) for rule in p["spec"].get("egress", [])]


def blocks(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [peer["ipBlock"] for peer in rule.get("to", []) if "ipBlock" in peer]


def reaches_internet(pod: str) -> bool:
    return any(ipaddress.ip_network(b["cidr"]) in EVERYWHERE for r in egress_rules(pod) for b in blocks(r))


def reaches_pods(pod: str, labels: dict[str, str], port: int) -> bool:
    for rule in egress_rules(pod):
        ports = {p["port"] for p in rule.get("ports", [])}
        for peer in rule.get("to", []):
            if "podSelector" in peer and "namespaceSelector" not in peer and selects(peer["podSelector"], labels) \
                    and (not ports or port in ports):
                return True
    return False


OFFERFLOW = sorted(n for n in PODS if n not in ("kafka", "mailpit"))


def test_everything_not_allowed_is_refused() -> None:
    deny = [p for p in POLICIES if p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Egress"]]
    assert len(deny) == 1 and "egress" not in deny[0]["spec"]
    for policy in POLICIES:
        if policy["spec"]["podSelector"]:
            assert any(selects(policy["spec"]["podSelector"], labels) for labels in PODS.values()), (
                f"{policy['metadata']['name']} selects no pod (a label that does not exist?)")


def test_only_the_fetching_services_reach_the_internet() -> None:
    fetchers = fetching_services()
    assert fetchers == {"validation", "certification", "provisioning", "staging", "packaging"}
    assert {pod for pod in PODS if reaches_internet(pod)} == fetchers


@pytest.mark.parametrize("pod", sorted(fetching_services()))
def test_the_internet_is_public_addresses_only(pod: str) -> None:
    for rule in egress_rules(pod):
        for block in blocks(rule):
            cidr = ipaddress.ip_network(block["cidr"])
            if cidr.version == 4 and cidr in EVERYWHERE:
                excepted = [ipaddress.ip_network(e) for e in block.get("except", [])]
                assert all(n in excepted for n in NEVER), f"{pod} may reach {NEVER} through {block}"


@pytest.mark.parametrize("pod", OFFERFLOW)
def test_every_process_reaches_kafka_and_dns(pod: str) -> None:
    assert reaches_pods(pod, PODS["kafka"], 9092), f"{pod} cannot reach Kafka"
    dns = [r for r in egress_rules(pod) if {"protocol": "UDP", "port": 53} in r.get("ports", [])]
    assert dns, f"{pod} cannot resolve names"


@pytest.mark.parametrize("pod", sorted(set(PODS) - fetching_services()))
def test_the_others_reach_private_addresses_on_named_ports_only(pod: str) -> None:
    for rule in egress_rules(pod):
        if not blocks(rule):
            continue
        assert rule.get("ports"), f"{pod}: an address range on every port"
        for block in blocks(rule):
            cidr = ipaddress.ip_network(block["cidr"])
            assert any(cidr.version == p.version and cidr.subnet_of(p) for p in PRIVATE  # type: ignore[arg-type]
                       ), f"{pod} reaches {cidr}"


def test_the_notifier_reaches_the_mail_sink() -> None:
    assert reaches_pods("notifier", PODS["mailpit"], 1025)
    assert not reaches_pods("status-api", PODS["mailpit"], 1025)
