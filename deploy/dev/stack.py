"""Runs the whole system on one machine: Kafka, PostgreSQL, the object stores, the mail sink and every service.

Used by ``make up`` (interactive, with a demo offer) and by the end-to-end tests (a private stack on
free ports). Every service is its own OS process, in its own process group, so stopping the stack
never leaves orphans.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = ("validation", "certification", "provisioning", "staging", "packaging", "notifier")
# What ``instances`` multiplies: every stage, and the projection (its consumer group splits the partitions too;
# Faust gives one process the same partition number of every topic, so an offer's events stay in one process).
SCALABLE = (*SERVICES, "projection")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # deploy/dev, also when imported from tests/ or bench/
import egressenv  # noqa: E402
import pgroles  # noqa: E402
import stackrun  # noqa: E402  (the commands)
from cluster import KafkaCluster, cluster_from_env  # noqa: E402
from procs import Ports, base_service, free_port, instance_names, port_open  # noqa: E402  (re-exported)
from stackrun import create_publisher, endpoints, instance_env  # noqa: E402  (re-exported)

__all__ = ["BIN", "ROOT", "KafkaCluster", "Ports", "Stack", "create_publisher", "endpoints", "free_port", "port_open"]


@dataclass
class Stack:
    run_dir: Path
    ports: Ports = field(default_factory=Ports)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    admin_token: str = field(default_factory=lambda: "ofa_" + secrets.token_urlsafe(24))
    # A Fernet key (32 url-safe base64 bytes) sealing lead credentials between status-api and packaging.
    secrets_key: str = field(default_factory=lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    # HMAC key of packaging's preview links (a fresh one per stack: links of an earlier stack stop working).
    preview_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # The object stores belong to the infrastructure: a stack whose services run on with-infra's infrastructure
    # (the tests' stack, benchmarks) uses that run's stores, named by OFFERFLOW_OBJECTSTORES_FILE.
    objectstores_file: Path | None = None
    # The database cluster too (its generated passwords live there): with-infra's, named by OFFERFLOW_PG_RUN_DIR.
    pg_run_dir: Path | None = None
    # Whether a replica that does not boot fails the run: `make up` keeps it; with-infra's runs (the test suites,
    # whose test images are mostly not bootable) export OFFERFLOW_STAGING_ENFORCE=false, read here.
    staging_enforce: bool = field(default_factory=lambda: os.environ.get("OFFERFLOW_STAGING_ENFORCE") != "false")
    # Processes of each scalable service, one consumer group each ("certification", "certification-2", ...).
    instances: int = 1
    # A three-node KRaft cluster instead of the single broker: with-infra's (OFFERFLOW_KAFKA_CLUSTER_FILE) or one
    # ``start_infra`` starts.
    cluster: KafkaCluster | None = field(default_factory=cluster_from_env)

    def __post_init__(self) -> None:
        if self.instances < 1:
            raise ValueError(f"instances must be >= 1, got {self.instances}")
        for service in SCALABLE:
            for name in self.instance_names(service)[1:]:
                self.ports.web.setdefault(name, free_port())
        if self.objectstores_file is None:
            named = os.environ.get("OFFERFLOW_OBJECTSTORES_FILE")
            self.objectstores_file = Path(named) if named else self.run_dir / "objectstores.json"
        if self.pg_run_dir is None:
            named = os.environ.get("OFFERFLOW_PG_RUN_DIR")
            self.pg_run_dir = Path(named) if named else self.run_dir / "postgres"

    @property
    def stores_dir(self) -> Path:
        return (self.objectstores_file or self.run_dir / "objectstores.json").parent

    @property
    def kafka_bootstrap(self) -> str:
        return self.cluster.bootstrap if self.cluster else f"127.0.0.1:{self.ports.kafka}"

    def instance_names(self, service: str) -> list[str]:
        return instance_names(service, self.instances if service in SCALABLE else 1)

    @property
    def dsn(self) -> str:
        """The services' DSN (role offerflow_app: rows only), with the password pg-start generated."""
        return pgroles.dsn(self.pg_dir, self.ports.postgres, pgroles.APP)

    @property
    def migration_dsn(self) -> str:
        """The database owner's DSN: migrations, the read-model rebuild, tests that make tables or databases."""
        return pgroles.dsn(self.pg_dir, self.ports.postgres, pgroles.OWNER)

    @property
    def pg_dir(self) -> Path:
        return self.pg_run_dir or self.run_dir / "postgres"

    def database_env(self) -> dict[str, str]:
        return pgroles.env(self.pg_dir, self.ports.postgres)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def mail_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.mail_http}"

    @property
    def mail_dir(self) -> Path:
        return self.run_dir / "mail"

    def env(self) -> dict[str, str]:
        p = self.ports
        return {
            **os.environ,
            "OFFERFLOW_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            **self.database_env(),
            "OFFERFLOW_PUBLIC_URL": self.api_url,
            "OFFERFLOW_SECRETS_KEY": self.secrets_key,
            "OFFERFLOW_KAFKA_PORT": str(p.kafka),
            "OFFERFLOW_KAFKA_CONTROLLER_PORT": str(p.kafka_controller),
            "OFFERFLOW_KAFKA_RUN_DIR": str(self.run_dir / "kafka"),
            **(self.cluster.env() if self.cluster else {}),
            "OFFERFLOW_PG_PORT": str(p.postgres),
            "OFFERFLOW_PG_RUN_DIR": str(self.pg_dir),
            # Fault injection (offerflow_shared.faults): tests arm a fault by writing <run_dir>/faults/<service>.
            "OFFERFLOW_FAULTS_DIR": str(self.run_dir / "faults"),
            "OFFERFLOW_STATUS_API_PORT": str(p.api),
            "OFFERFLOW_STATUS_API_ADMIN_TOKEN": self.admin_token,
            # The outbox relay runs as its own process here, so that it can be stopped and killed on its own.
            "OFFERFLOW_STATUS_API_EMBEDDED_RELAY": "false",
            "OFFERFLOW_STATUS_API_PROJECTION_WEB_PORT": str(p.web["projection"]),
            # Quotas and rate limits stay on, sized so that one publisher of the suites (e2e, chaos, bench: a few
            # hundred offers and runs in an hour, bursts of parallel requests) never meets them.
            "OFFERFLOW_STATUS_API_MAX_OFFERS_PER_PUBLISHER": "10000",
            "OFFERFLOW_STATUS_API_MAX_RUNS_PER_HOUR": "10000",
            "OFFERFLOW_STATUS_API_WRITE_RATE": "1000", "OFFERFLOW_STATUS_API_WRITE_BURST": "5000",
            "OFFERFLOW_STATUS_API_READ_RATE": "2000", "OFFERFLOW_STATUS_API_READ_BURST": "10000",
            "OFFERFLOW_STATUS_API_WRITES_IN_FLIGHT": "1000", "OFFERFLOW_STATUS_API_READS_IN_FLIGHT": "1000",
            "OFFERFLOW_STATUS_API_MAX_STREAMS_PER_TOKEN": "20",
            "OFFERFLOW_VALIDATION_WEB_PORT": str(p.web["validation"]),
            "OFFERFLOW_CERTIFICATION_WEB_PORT": str(p.web["certification"]),
            "OFFERFLOW_PROVISIONING_WEB_PORT": str(p.web["provisioning"]),
            "OFFERFLOW_PROVISIONING_REGION_MAP_FILE": str(self.stores_dir / "regions.json"),
            # The dev CA of the object stores' HTTPS (deploy/dev/devtls.py), trusted by every service.
            "OFFERFLOW_TRUSTED_CA_FILE": str(self.stores_dir / "tls" / "ca.pem"),
            "OFFERFLOW_STAGING_WEB_PORT": str(p.web["staging"]),
            "OFFERFLOW_STAGING_REGION_MAP_FILE": str(self.stores_dir / "regions.json"),
            "OFFERFLOW_STAGING_WORK_DIR": str(self.run_dir / "staging"),
            "OFFERFLOW_STAGING_ENFORCE": str(self.staging_enforce).lower(),
            "OFFERFLOW_PACKAGING_WEB_PORT": str(p.web["packaging"]),
            "OFFERFLOW_PACKAGING_PAGES_ROOT": str(self.run_dir / "pages"),
            "OFFERFLOW_PACKAGING_STOREFRONT_URL": f"http://127.0.0.1:{p.storefront}",
            "OFFERFLOW_PACKAGING_PREVIEW_SECRET": self.preview_secret,
            "OFFERFLOW_NOTIFIER_WEB_PORT": str(p.web["notifier"]),
            "OFFERFLOW_NOTIFIER_SMTP_PORT": str(p.smtp),
            "OFFERFLOW_MAILSINK_SMTP_PORT": str(p.smtp),
            "OFFERFLOW_MAILSINK_HTTP_PORT": str(p.mail_http),
            "OFFERFLOW_MAILSINK_DIR": str(self.mail_dir),
            # Every egress guard on: only the stack's own stores are named, file:// only under the run's root.
            **egressenv.env(self),
            "PYTHONUNBUFFERED": "1",
        }

    # --- infrastructure ---------------------------------------------------------------------------

    def start_infra(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.cluster:
            self.cluster.start()
        else:
            subprocess.run([str(ROOT / "deploy/kafka/bin/kafka-start")], env=self.env(), check=True)
        subprocess.run([str(ROOT / "deploy/postgres/bin/pg-start")], env=self.env(), check=True,
                       stdout=subprocess.DEVNULL)
        from offerflow_shared.kafka import ensure_topics

        # RF 3 on the cluster, as its env gives the services (OFFERFLOW_KAFKA_REPLICATION_FACTOR); min.insync.replicas
        # is not set on the topics: the brokers' default applies (2 on the cluster, 1 on the single node).
        asyncio.run(ensure_topics(self.kafka_bootstrap, replication_factor=3 if self.cluster else 1))
        self.start_azurite()
        self.object_stores().start()

    # VersityGW (deploy/dev/objectstore.py): one S3 endpoint per region and the publishers' storage.
    def object_stores(self) -> Any:
        if getattr(self, "_object_stores", None) is None:
            from objectstore import ObjectStores

            self._object_stores = ObjectStores(self.run_dir)
        return self._object_stores

    def object_stores_public(self) -> dict[str, object]:
        """Endpoints and buckets of the running object stores (no credentials); {} when none run."""
        from objectstore import ObjectStores

        try:
            return dict(ObjectStores.attach(self.stores_dir / "objectstores.json").public())
        except (OSError, ValueError, KeyError):
            return {}

    # Azurite (deploy/dev/azurite.py): the storage account of the Azure Table / Blob lead destinations.
    def _azurite(self) -> Any:
        if getattr(self, "_azurite_proc", None) is None:
            from azurite import Azurite

            self._azurite_proc = Azurite(self.run_dir / "azurite")
        return self._azurite_proc

    def start_azurite(self) -> None:
        self._azurite().start()

    def stop_azurite(self) -> None:
        self._azurite().stop()

    @property
    def azurite_connection_string(self) -> str:
        """A connection string for the Azure Table / Blob lead destinations ("" when Azurite is not running)."""
        proc = self._azurite()
        return str(proc.connection_string()) if proc.table_port else ""

    def stop_infra(self) -> None:
        self.object_stores().stop()
        self.stop_azurite()
        subprocess.run([str(ROOT / "deploy/postgres/bin/pg-stop")], env=self.env(), check=False)
        if self.cluster:
            self.cluster.stop()
        else:
            subprocess.run([str(ROOT / "deploy/kafka/bin/kafka-stop")], env=self.env(), check=False)

    # --- services ---------------------------------------------------------------------------------

    def commands(self) -> dict[str, list[str]]:
        cmds = {name: [str(BIN / f"offerflow-{name}")] for name in SERVICES}
        cmds["projection"] = [str(BIN / "offerflow-projection")]
        cmds["status-api"] = [str(BIN / "offerflow-status-api")]
        cmds["relay"] = [str(BIN / "offerflow-outbox-relay")]
        cmds["mailsink"] = [str(BIN / "offerflow-mailsink")]
        return cmds

    def start(self, name: str) -> None:
        """Starts one process: a service's first instance by its name, another one as "<service>-<n>"."""
        logs = self.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        env, cwd = instance_env(self, name)
        self.procs[name] = subprocess.Popen(self.commands()[base_service(name)], env=env, cwd=cwd, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def start_services(self, timeout: float = 90.0) -> None:
        for name in ("mailsink", "status-api", "relay", *(n for s in SCALABLE for n in self.instance_names(s))):
            self.start(name)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        waits = {"status-api": self.ports.api, "mailsink": self.ports.mail_http,
                 **{n: self.ports.web[n] for s in SCALABLE for n in self.instance_names(s)}}
        pending = dict(waits)
        while pending and time.monotonic() < deadline:
            for name, port in list(pending.items()):
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.run_dir}/logs/{name}.log")
                if port_open(port) and (name != "status-api" or self._api_ready()):
                    del pending[name]
            time.sleep(0.2)
        if pending:
            raise RuntimeError(f"not ready after {timeout}s: {sorted(pending)}; see {self.run_dir}/logs")

    def _api_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_services(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(stackrun.main(Stack))
