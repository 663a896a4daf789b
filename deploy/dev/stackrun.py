"""The stack's commands: ``make up`` (``up``), ``with-infra``, and the helpers they share with the tests.

Split from ``stack.py`` (the ``Stack`` itself), which re-exports these names and keeps the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import egressenv  # deploy/dev is on the path (stack.py puts it there)

if TYPE_CHECKING:
    from stack import Stack

ROOT = Path(__file__).resolve().parents[2]


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
               "OFFERFLOW_STAGING_ENFORCE": "false"}
        return subprocess.call(command, env=env, cwd=ROOT)
    finally:
        stack.stop_infra()
