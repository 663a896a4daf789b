"""The stack's commands: ``make up`` (``up``), ``with-infra``, and the helpers they share with the tests.

Split from ``stack.py`` (the ``Stack`` itself), which re-exports these names and keeps the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import egressenv  # deploy/dev is on the path (stack.py puts it there)
from procs import Ports, base_service

if TYPE_CHECKING:
    from stack import Stack

ROOT = Path(__file__).resolve().parents[2]


def instance_env(stack: Stack, name: str) -> tuple[dict[str, str], Path]:
    """The environment and working directory of process ``name``; a second instance of a service differs from
    the first by its web port, its working directory (Faust keeps a data folder per app id there) and, for
    staging, its work folder (staging empties its replicas folder at start)."""
    env, service = stack.env(), base_service(name)
    if name == service:
        return env, ROOT
    var = "OFFERFLOW_STATUS_API_PROJECTION_WEB_PORT" if service == "projection" else \
        f"OFFERFLOW_{service.upper()}_WEB_PORT"
    cwd = stack.run_dir / "instances" / name
    cwd.mkdir(parents=True, exist_ok=True)
    env[var] = str(stack.ports.web[name])
    if service == "staging":
        env["OFFERFLOW_STAGING_WORK_DIR"] = str(stack.run_dir / name)
    return env, cwd


def endpoints(stack: Stack, publisher: str, token: str | None) -> dict[str, object]:
    # The portal address and the token are printed apart: a link never signs anyone in (the portal refuses
    # credentials in a URL), the publisher pastes the token into its sign-in form.
    portal = f"{stack.api_url}/portal/#/offers/demo/status"
    return {"api_url": stack.api_url, "portal_url": portal if token else f"{stack.api_url}/portal/",
            "mail_url": stack.mail_url,
            "kafka_bootstrap": stack.kafka_bootstrap, "postgres_dsn": stack.dsn,
            # The owner's: `offerflow projection rebuild` empties and refills the read model (DDL-level rights).
            "postgres_owner_dsn": stack.migration_dsn,
            "storefront_url": f"http://127.0.0.1:{stack.ports.storefront}", "publisher": publisher,
            "token": token, "admin_token": stack.admin_token,
            "azurite_connection_string": stack.azurite_connection_string,
            "object_stores": stack.object_stores_public()}


def create_publisher(stack: Stack, publisher: str) -> str:
    """Creates the publisher if needed and returns a fresh API token for it."""

    def post(path: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
        req = urllib.request.Request(f"{stack.api_url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {stack.admin_token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    status, body = post("/admin/publishers", {"publisherId": publisher, "displayName": publisher})
    if status not in (201, 409):
        raise RuntimeError(f"cannot create publisher {publisher}: {status} {body}")
    status, body = post(f"/admin/publishers/{publisher}/tokens", {"name": "dev"})
    if status != 201:
        raise RuntimeError(f"cannot create a token for {publisher}: {status} {body}")
    return str(body["token"])


def up(stack: Stack, no_demo: bool = False) -> int:
    """``make up``: everything on the fixed ports of ``.run``, with a demo offer, until Ctrl-C."""
    from demo import publish_demo

    run = stack.run_dir
    stop = {"now": False}

    def on_signal(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("Starting Kafka, PostgreSQL and the object stores …", flush=True)
        stack.start_infra()
        print("Starting the services …", flush=True)
        stack.start_services()
        token = create_publisher(stack, "demo")
        info = endpoints(stack, "demo", token)
        (run / "endpoints.json").write_text(json.dumps(info, indent=2) + "\n")
        if not no_demo:
            # Under the demo publisher's file:// folder: the demo's logos are read from there.
            print(publish_demo(stack, egressenv.file_root(stack) / "demo" / "demo", token), flush=True)
        print("\nOfferflow is up:")
        for k, v in info.items():
            print(f"  {k:16} {v}")
        print("\nLogs follow (Ctrl-C stops everything).\n", flush=True)
        tail = subprocess.Popen(["tail", "-n", "0", "-F", *map(str, (run / "logs").glob("*.log"))],
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


def with_infra(stack: Stack, command: list[str]) -> int:
    """A fresh broker, database and object stores (``stack``'s free ports) for one command, then stopped."""
    run_dir, ports = stack.run_dir, stack.ports
    stack.object_stores().stop()  # left running by a killed earlier run: its pid files go with the folder
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        stack.start_infra()
        env = {**os.environ, "OFFERFLOW_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
               **stack.database_env(), "OFFERFLOW_TEST_RUN_DIR": str(run_dir),
               "OFFERFLOW_KAFKA_RUN_DIR": str(run_dir / "kafka"), "OFFERFLOW_KAFKA_PORT": str(ports.kafka),
               "OFFERFLOW_KAFKA_CONTROLLER_PORT": str(ports.kafka_controller),
               "OFFERFLOW_PG_RUN_DIR": str(stack.pg_dir), "OFFERFLOW_PG_PORT": str(ports.postgres),
               "OFFERFLOW_AZURITE_CONNECTION_STRING": stack.azurite_connection_string,
               # The object stores (regions, publisher storage, dev CA, credentials): tests/objectstores.py.
               "OFFERFLOW_OBJECTSTORES_FILE": str(stack.object_stores().config_file),
               # Where tests put publishers' file:// images and logos (<root>/<publisher>/): the services' root.
               "OFFERFLOW_FILE_URL_ROOT": str(egressenv.file_root(stack)),
               # The suites' images are mostly not bootable: staging keeps its reports but does not fail runs
               # (tests/e2e/test_staging.py boots a real image and checks the report itself).
               "OFFERFLOW_STAGING_ENFORCE": "false",
               # On the cluster: every broker, RF 3, and OFFERFLOW_KAFKA_CLUSTER_FILE for KafkaCluster.from_env().
               **(stack.cluster.env() if stack.cluster else {})}
        return subprocess.call(command, env=env, cwd=ROOT)
    finally:
        stack.stop_infra()


def main(stack_type: type[Stack]) -> int:
    """The command line of ``deploy/dev/stack.py``."""
    from cluster import KafkaCluster

    parser = argparse.ArgumentParser(prog="stack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="run everything with a demo offer until Ctrl-C")
    p_up.add_argument("--no-demo", action="store_true")
    p_with = sub.add_parser("with-infra", help="run a command against a private Kafka, PostgreSQL and object stores")
    p_with.add_argument("run_dir", nargs="?", help="the run's folder (default: the --cluster DIR)")
    for p in (p_up, p_with):
        p.add_argument("--cluster", metavar="DIR", type=Path,
                       help="three KRaft brokers (RF 3, min ISR 2) with their data under DIR instead of one broker")
    p_up.add_argument("--instances", type=int, default=1, help="processes of every stage (default 1)")
    sub.add_parser("infra-up", help="start Kafka, PostgreSQL and the object stores only")
    sub.add_parser("infra-down", help="stop Kafka, PostgreSQL and the object stores")
    # Everything after the first "--" is the command (argparse would take its first word for run_dir).
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]
    cluster = None
    if getattr(args, "cluster", None) is not None:
        shutil.rmtree(args.cluster.resolve(), ignore_errors=True)  # a fresh cluster each time: new ports, new id
        # `up` keeps its fixed ports (node 1 where the single broker would be); with-infra takes free ones.
        cluster = KafkaCluster.new(args.cluster, base_port=9092 if args.cmd == "up" else None)
    if args.cmd == "with-infra":
        if not args.run_dir and not args.cluster:
            parser.error("with-infra needs a run folder, or --cluster DIR")
        run_dir = Path(args.run_dir or args.cluster).resolve()
        stack = stack_type(run_dir=run_dir, ports=Ports.free(), objectstores_file=run_dir / "objectstores.json",
                           pg_run_dir=run_dir / "postgres", cluster=cluster)
        return int(with_infra(stack, command))
    stack = stack_type(run_dir=ROOT / ".run", objectstores_file=ROOT / ".run/objectstores.json",
                       pg_run_dir=ROOT / ".run/postgres", cluster=cluster, instances=getattr(args, "instances", 1))
    if args.cmd == "up":
        return int(up(stack, no_demo=args.no_demo))
    if args.cmd == "infra-up":
        stack.start_infra()
    else:
        stack.stop_infra()
    return 0
