"""Runs the whole system on one machine: Kafka, PostgreSQL, the mail sink and every service.

Used by ``make up`` (interactive, with a demo offer) and by the end-to-end tests (a private stack on
free ports). Every service is its own OS process, in its own process group, so stopping the stack
never leaves orphans.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = ("validation", "certification", "provisioning", "packaging", "notifier")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Ports:
    kafka: int = 9092
    kafka_controller: int = 9093
    postgres: int = 55432
    api: int = 8080
    smtp: int = 1025
    mail_http: int = 8025
    storefront: int = 6064
    web: dict[str, int] = field(default_factory=lambda: {
        "validation": 6061, "certification": 6062, "provisioning": 6063, "packaging": 6064,
        "notifier": 6065, "projection": 6066})

    @classmethod
    def free(cls) -> Ports:
        p = cls(kafka=free_port(), kafka_controller=free_port(), postgres=free_port(), api=free_port(),
                smtp=free_port(), mail_http=free_port())
        p.web = {name: free_port() for name in p.web}
        p.storefront = p.web["packaging"]
        return p


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

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    @property
    def dsn(self) -> str:
        return f"postgresql://offerflow:offerflow@127.0.0.1:{self.ports.postgres}/offerflow"

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
            "OFFERFLOW_DATABASE_DSN": self.dsn,
            "OFFERFLOW_PUBLIC_URL": self.api_url,
            "OFFERFLOW_SECRETS_KEY": self.secrets_key,
            "OFFERFLOW_KAFKA_PORT": str(p.kafka),
            "OFFERFLOW_KAFKA_CONTROLLER_PORT": str(p.kafka_controller),
            "OFFERFLOW_KAFKA_RUN_DIR": str(self.run_dir / "kafka"),
            "OFFERFLOW_PG_PORT": str(p.postgres),
            "OFFERFLOW_PG_RUN_DIR": str(self.run_dir / "postgres"),
            # Fault injection (offerflow_shared.faults): tests arm a fault by writing <run_dir>/faults/<service>.
            "OFFERFLOW_FAULTS_DIR": str(self.run_dir / "faults"),
            "OFFERFLOW_STATUS_API_PORT": str(p.api),
            "OFFERFLOW_STATUS_API_ADMIN_TOKEN": self.admin_token,
            # The outbox relay runs as its own process here, so that it can be stopped and killed on its own.
            "OFFERFLOW_STATUS_API_EMBEDDED_RELAY": "false",
            "OFFERFLOW_STATUS_API_PROJECTION_WEB_PORT": str(p.web["projection"]),
            "OFFERFLOW_VALIDATION_WEB_PORT": str(p.web["validation"]),
            "OFFERFLOW_CERTIFICATION_WEB_PORT": str(p.web["certification"]),
            "OFFERFLOW_PROVISIONING_WEB_PORT": str(p.web["provisioning"]),
            "OFFERFLOW_PROVISIONING_STORAGE_ROOT": str(self.run_dir / "regions"),
            "OFFERFLOW_PACKAGING_WEB_PORT": str(p.web["packaging"]),
            "OFFERFLOW_PACKAGING_PAGES_ROOT": str(self.run_dir / "pages"),
            "OFFERFLOW_PACKAGING_STOREFRONT_URL": f"http://127.0.0.1:{p.storefront}",
            "OFFERFLOW_PACKAGING_PREVIEW_SECRET": self.preview_secret,
            "OFFERFLOW_NOTIFIER_WEB_PORT": str(p.web["notifier"]),
            "OFFERFLOW_NOTIFIER_SMTP_PORT": str(p.smtp),
            "OFFERFLOW_MAILSINK_SMTP_PORT": str(p.smtp),
            "OFFERFLOW_MAILSINK_HTTP_PORT": str(p.mail_http),
            "OFFERFLOW_MAILSINK_DIR": str(self.mail_dir),
            "PYTHONUNBUFFERED": "1",
        }

    # --- infrastructure ---------------------------------------------------------------------------

    def start_infra(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(ROOT / "deploy/kafka/bin/kafka-start")], env=self.env(), check=True)
        subprocess.run([str(ROOT / "deploy/postgres/bin/pg-start")], env=self.env(), check=True,
                       stdout=subprocess.DEVNULL)
        from offerflow_shared.kafka import ensure_topics

        asyncio.run(ensure_topics(self.kafka_bootstrap))
        self.start_azurite()

    # Azurite (deploy/dev/azurite.py): the storage account of the Azure Table / Blob lead destinations.
    def _azurite(self) -> Any:
        if getattr(self, "_azurite_proc", None) is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
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
        self.stop_azurite()
        subprocess.run([str(ROOT / "deploy/postgres/bin/pg-stop")], env=self.env(), check=False)
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
        logs = self.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        self.procs[name] = subprocess.Popen(self.commands()[name], env=self.env(), cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def start_services(self, timeout: float = 90.0) -> None:
        for name in ("mailsink", "status-api", "relay", "projection", *SERVICES):
            self.start(name)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        waits = {"status-api": self.ports.api, "mailsink": self.ports.mail_http,
                 **{n: self.ports.web[n] for n in (*SERVICES, "projection")}}
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


def endpoints(stack: Stack, publisher: str, token: str | None) -> dict[str, object]:
    # The fragment is read once by the portal and never sent to the server.
    portal = f"{stack.api_url}/portal/#publisher={publisher}&token={token}&next=/offers/demo/status"
    return {"api_url": stack.api_url, "portal_url": portal if token else f"{stack.api_url}/portal/",
            "mail_url": stack.mail_url,
            "kafka_bootstrap": stack.kafka_bootstrap, "postgres_dsn": stack.dsn,
            "storefront_url": f"http://127.0.0.1:{stack.ports.storefront}", "publisher": publisher,
            "token": token, "admin_token": stack.admin_token,
            "azurite_connection_string": stack.azurite_connection_string}


def create_publisher(stack: Stack, publisher: str) -> str:
    """Creates the publisher if needed and returns a fresh API token for it."""
    import json as _json
    import urllib.error

    def post(path: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
        req = urllib.request.Request(f"{stack.api_url}{path}", data=_json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {stack.admin_token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, _json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, _json.loads(e.read() or b"{}")

    status, body = post("/admin/publishers", {"publisherId": publisher, "displayName": publisher})
    if status not in (201, 409):
        raise RuntimeError(f"cannot create publisher {publisher}: {status} {body}")
    status, body = post(f"/admin/publishers/{publisher}/tokens", {"name": "dev"})
    if status != 201:
        raise RuntimeError(f"cannot create a token for {publisher}: {status} {body}")
    return str(body["token"])


def up(args: argparse.Namespace) -> int:
    from demo import publish_demo

    stack = Stack(run_dir=ROOT / ".run")
    stop = {"now": False}

    def on_signal(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("Starting Kafka and PostgreSQL …", flush=True)
        stack.start_infra()
        print("Starting the services …", flush=True)
        stack.start_services()
        token = create_publisher(stack, "demo")
        info = endpoints(stack, "demo", token)
        (ROOT / ".run/endpoints.json").write_text(json.dumps(info, indent=2) + "\n")
        if not args.no_demo:
            print(publish_demo(stack, ROOT / ".run/demo", token), flush=True)
        print("\nOfferflow is up:")
        for k, v in info.items():
            print(f"  {k:16} {v}")
        print("\nLogs follow (Ctrl-C stops everything).\n", flush=True)
        tail = subprocess.Popen(["tail", "-n", "0", "-F", *map(str, (ROOT / ".run/logs").glob("*.log"))],
                                start_new_session=True)
        try:
            while not stop["now"]:
                for name, proc in stack.procs.items():
                    if proc.poll() is not None:
                        print(f"!! {name} exited with {proc.returncode}", flush=True)
                        stop["now"] = True
                time.sleep(0.5)
        finally:
            os.killpg(tail.pid, signal.SIGTERM)
            tail.wait()
    finally:
        print("\nStopping …", flush=True)
        stack.stop_services()
        stack.stop_infra()
        print("Stopped.", flush=True)
    return 0


def with_infra(run_dir: Path, command: list[str]) -> int:
    """A fresh broker and database on free ports for one command (``make test``), then stopped."""
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    ports = Ports.free()
    stack = Stack(run_dir=run_dir, ports=ports)
    try:
        stack.start_infra()
        env = {**os.environ, "OFFERFLOW_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
               "OFFERFLOW_DATABASE_DSN": stack.dsn, "OFFERFLOW_TEST_RUN_DIR": str(run_dir),
               "OFFERFLOW_KAFKA_RUN_DIR": str(run_dir / "kafka"), "OFFERFLOW_KAFKA_PORT": str(ports.kafka),
               "OFFERFLOW_KAFKA_CONTROLLER_PORT": str(ports.kafka_controller),
               "OFFERFLOW_PG_RUN_DIR": str(run_dir / "postgres"), "OFFERFLOW_PG_PORT": str(ports.postgres),
               "OFFERFLOW_AZURITE_CONNECTION_STRING": stack.azurite_connection_string}
        return subprocess.call(command, env=env, cwd=ROOT)
    finally:
        stack.stop_infra()


def main() -> int:
    parser = argparse.ArgumentParser(prog="stack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="run everything with a demo offer until Ctrl-C")
    p_up.add_argument("--no-demo", action="store_true")
    p_with = sub.add_parser("with-infra", help="run a command against a private Kafka and PostgreSQL")
    p_with.add_argument("run_dir")
    p_with.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("infra-up", help="start Kafka and PostgreSQL only")
    sub.add_parser("infra-down", help="stop Kafka and PostgreSQL")
    args = parser.parse_args()
    if args.cmd == "up":
        return up(args)
    if args.cmd == "with-infra":
        return with_infra(Path(args.run_dir).resolve(), [a for a in args.command if a != "--"])
    stack = Stack(run_dir=ROOT / ".run")
    if args.cmd == "infra-up":
        stack.start_infra()
    else:
        stack.stop_infra()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
