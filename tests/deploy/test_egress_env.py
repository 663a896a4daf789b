"""The dev stack's egress settings (deploy/dev/egressenv.py): every guard on, only its own publisher store and
Azurite named, file:// under the run's root; the database and Kafka never named (and refused anyway)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from stack import Ports, Stack

from offerflow_shared.egress_policy import EgressError, EgressPolicy
from offerflow_shared.settings import CommonSettings


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    for name in [n for n in os.environ if n.startswith("OFFERFLOW_")]:
        monkeypatch.delenv(name)
    s = Stack(run_dir=tmp_path / "run", ports=Ports(), objectstores_file=tmp_path / "run/objectstores.json")
    s.stores_dir.mkdir(parents=True)
    region = {"name": "eastus", "endpoint_url": "https://127.0.0.1:9201", "bucket": "r"}
    (s.stores_dir / "objectstores.json").write_text(json.dumps(
        {"regions": [region], "publisher": {"name": "publisher", "endpoint_url": "https://127.0.0.1:9101"}}))
    (s.stores_dir / "regions.json").write_text(json.dumps({"regions": [region]}))
    monkeypatch.setenv("OFFERFLOW_AZURITE_CONNECTION_STRING",
                       "AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
                       "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;")
    return s


def test_the_stack_names_its_publisher_store_and_azurite_only(stack: Stack) -> None:
    env = stack.env()
    named = set(env["OFFERFLOW_EGRESS_ALLOWED_ENDPOINTS"].split(","))
    assert named == {"127.0.0.1:9101", "127.0.0.1:10000", "127.0.0.1:10002"}  # not the region store :9201
    assert env["OFFERFLOW_FILE_URL_ROOT"] == str(stack.run_dir / "files")
    assert (stack.run_dir / "files").is_dir()


def test_what_the_services_build_from_it_refuses_the_database_and_kafka(stack: Stack,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in stack.env().items():
        if name.startswith("OFFERFLOW_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("OFFERFLOW_DATABASE_DSN", "postgresql://app:pw@127.0.0.1:55432/offerflow")
    policy = EgressPolicy.from_settings(CommonSettings())
    assert policy.addresses("127.0.0.1", 9101) == ["127.0.0.1"]
    for port in (55432, stack.ports.kafka, 9201, stack.ports.api):
        with pytest.raises(EgressError, match="the URL is not allowed"):
            policy.addresses("127.0.0.1", port)
