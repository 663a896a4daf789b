"""Fixtures for the cross-service suites: a private running stack on the broker/database of ``make test``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy/dev"))

import pgroles  # noqa: E402
from stack import Ports, Stack, create_publisher  # noqa: E402


def _infra_ports() -> Ports | None:
    if not os.environ.get("OFFERFLOW_KAFKA_PORT") or not os.environ.get("OFFERFLOW_PG_PORT"):
        return None
    ports = Ports.free()
    ports.kafka = int(os.environ["OFFERFLOW_KAFKA_PORT"])
    ports.kafka_controller = int(os.environ["OFFERFLOW_KAFKA_CONTROLLER_PORT"])
    ports.postgres = int(os.environ["OFFERFLOW_PG_PORT"])
    return ports


@dataclass(frozen=True)
class Dsns:
    """The roles of the test run's database (deploy/postgres/roles.sql), each with its generated password."""

    app: str  # what the services connect as: rows only
    owner: str  # owns the schema: migrations, and tests that create tables, schemas or databases
    superuser: str  # to inspect the cluster (its roles, pg_hba rules, sessions), never for the services


@pytest.fixture(scope="session")
def dsns() -> Dsns:
    run_dir, port = os.environ.get("OFFERFLOW_PG_RUN_DIR"), os.environ.get("OFFERFLOW_PG_PORT")
    if not run_dir or not port:
        pytest.skip("needs the database of `make test` (deploy/dev/stack.py with-infra)")
    pg, p = Path(run_dir), int(port)
    return Dsns(app=pgroles.dsn(pg, p, pgroles.APP), owner=pgroles.dsn(pg, p, pgroles.OWNER),
                superuser=pgroles.dsn(pg, p, pgroles.SUPERUSER, "postgres"))


@pytest.fixture(scope="session")
def owner_dsn(dsns: Dsns) -> str:
    """The database owner's DSN, for tests that make or empty tables (the services' role may not)."""
    return dsns.owner


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service as its own process, on the broker, database and object stores that ``make test`` started."""
    ports = _infra_ports()
    if ports is None:
        pytest.skip("needs the broker and database of `make test` (deploy/dev/stack.py with-infra)")
    run_dir = Path(os.environ.get("OFFERFLOW_TEST_RUN_DIR", tmp_path_factory.mktemp("stack")))
    stores = os.environ.get("OFFERFLOW_OBJECTSTORES_FILE")
    if not stores:
        pytest.skip("needs the object stores of `make test` (deploy/dev/stack.py with-infra)")
    # The object stores belong to the infrastructure: the services get with-infra's region map and dev CA.
    s = Stack(run_dir=run_dir, ports=ports, objectstores_file=Path(stores))
    try:
        s.start_services(timeout=120)
        yield s
    finally:
        s.stop_services()


@pytest.fixture(scope="session")
def e2e_token(stack: Stack) -> str:
    """A bearer token of publisher ``e2e`` (created on first use)."""
    return create_publisher(stack, "e2e")
