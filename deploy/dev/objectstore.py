"""VersityGW (Apache-2.0), a real S3 server on a POSIX directory: one endpoint per region, plus the publisher's.

``make up`` and ``with-infra`` start one VersityGW process per region (``--region <name>``, its own port, data
directory and random credentials) and one "publisher" endpoint (where the publishers' images live, read back
through presigned URLs), all over HTTPS with a dev CA generated per run (``devtls.py``). The binary is built pinned
into ``$OFFERFLOW_CACHE`` (default ``~/.cache/offerflow``) with ``go install``; ``install`` is silent and instant
when it is already there. Each process has its own process group, so stopping never leaves one behind; one
endpoint can be stopped (or killed) and started again on the same port with the same data, as tests do mid-copy.

Files written in the run directory (the interface of deploy/README.md "Object stores"):
``objectstores.json`` (CA, regions and publisher, with credentials), ``regions.json`` (the provisioning
service's region map), ``tls/ca.pem``; data and logs under ``objectstores/<name>/``.

    python deploy/dev/objectstore.py install [--quiet]
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # imported from tests/ and bench/ too

import devtls
from procs import alive, free_port, port_open, recorded_pid, stop_group

VERSION = "v1.8.0"
MODULE = "github.com/versity/versitygw/cmd/versitygw"
REGIONS = ("eastus", "westus2", "westeurope", "northeurope", "southeastasia", "japaneast", "brazilsouth",
           "australiaeast")
PUBLISHER = "publisher"


def home() -> Path:
    cache = Path(os.environ.get("OFFERFLOW_CACHE") or Path.home() / ".cache" / "offerflow")
    return cache / "versitygw" / VERSION


def binary() -> Path:
    return home() / "versitygw"


def installed() -> bool:
    return binary().is_file() and os.access(binary(), os.X_OK)


def install(quiet: bool = False) -> None:
    if installed():
        if not quiet:
            print(f"versitygw {VERSION} already in {home()}")
        return
    go = shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if os.access(p, os.X_OK)), None)
    if go is None:
        raise SystemExit(f"objectstore: Go (1.25 or newer) is needed to build VersityGW {VERSION}; install Go "
                         "and run scripts/install again")
    print(f"install: versitygw {VERSION} into {home()} (go install, about 4 minutes the first time)", flush=True)
    tmp = home().with_name(home().name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        # GOBIN into a temporary folder, renamed at the end: an interrupted build never looks installed.
        subprocess.run([go, "install", f"{MODULE}@{VERSION}"], check=True, env={**os.environ, "GOBIN": str(tmp)})
        shutil.rmtree(home(), ignore_errors=True)
        tmp.rename(home())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class Endpoint:
    """One VersityGW process's address and root credentials (a region, or the publisher's storage)."""

    name: str
    port: int
    bucket: str
    signing_region: str
    access_key_id: str
    secret_access_key: str

    @property
    def endpoint_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def entry(self, ca_file: Path) -> dict[str, Any]:
        """The region-map / objectstores.json shape (provisioning's RegionEndpoint accepts exactly these keys)."""
        d = asdict(self)
        del d["port"]
        return {"name": d.pop("name"), "endpoint_url": self.endpoint_url, **d, "ca_file": str(ca_file)}


def _new_endpoint(name: str, old: dict[str, Any] | None) -> Endpoint:
    """Fresh port; the credentials of an earlier run of the same directory are kept, so its buckets stay ours."""
    old = old or {}
    return Endpoint(name=name, port=free_port(), bucket=PUBLISHER if name == PUBLISHER else f"offerflow-{name}",
                    signing_region="us-east-1" if name == PUBLISHER else name,
                    access_key_id=old.get("access_key_id") or "OF" + secrets.token_hex(9).upper(),
                    secret_access_key=old.get("secret_access_key") or secrets.token_urlsafe(30))


class ObjectStores:
    """The region endpoints and the publisher endpoint of one run directory."""

    def __init__(self, run_dir: Path, regions: tuple[str, ...] = REGIONS) -> None:
        self.run_dir = run_dir
        self.regions = regions
        self.endpoints: dict[str, Endpoint] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        tls_dir = run_dir / "tls"
        self.tls = devtls.DevTls(tls_dir / "ca.pem", tls_dir / "server.pem", tls_dir / "server.key")

    @property
    def config_file(self) -> Path:
        return self.run_dir / "objectstores.json"

    @property
    def region_map_file(self) -> Path:
        return self.run_dir / "regions.json"

    def dir(self, name: str) -> Path:
        return self.run_dir / "objectstores" / name

    @classmethod
    def attach(cls, config_file: Path) -> ObjectStores:
        """The stores another process started (from its objectstores.json), to stop and start one of them."""
        conf = json.loads(config_file.read_text())
        stores = cls(config_file.parent, tuple(r["name"] for r in conf["regions"]))
        for e in [*conf["regions"], conf["publisher"]]:
            stores.endpoints[e["name"]] = Endpoint(
                name=e["name"], port=int(e["endpoint_url"].rsplit(":", 1)[1]), bucket=e["bucket"],
                signing_region=e["signing_region"], access_key_id=e["access_key_id"],
                secret_access_key=e["secret_access_key"])
        return stores

    # --- the whole set ------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        if not installed():
            raise RuntimeError(f"VersityGW {VERSION} is not installed in {home()}: run scripts/install")
        self.stop()  # ones left behind by an earlier run of the same directory
        previous = self._previous()
        self.tls = devtls.ensure(self.run_dir / "tls")
        self.endpoints = {n: _new_endpoint(n, previous.get(n)) for n in (*self.regions, PUBLISHER)}
        for name in self.endpoints:  # all at once, then wait: each takes well under a second
            self._spawn(name)
        try:
            for name in self.endpoints:
                self._wait(name, timeout)
                self._ensure_bucket(name)
        except BaseException:
            self.stop()
            raise
        self._write()

    def stop(self) -> None:
        """Stops every endpoint of this run directory, including ones started by another process."""
        names = set(self.endpoints) | {p.parent.name for p in (self.run_dir / "objectstores").glob("*/versitygw.pid")}
        for name in sorted(names):
            self.stop_endpoint(name)

    # --- one endpoint -------------------------------------------------------------------------------

    def stop_endpoint(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stops one endpoint (``SIGKILL`` to simulate a crash); its port, credentials and data are kept."""
        proc = self.procs.pop(name, None)
        pid_file = self.dir(name) / "versitygw.pid"
        pid = recorded_pid(pid_file, str(self.dir(name) / "data").encode())
        if pid is None and proc is not None and proc.poll() is None:
            pid = proc.pid
        if pid is not None:
            stop_group(pid, proc, sig=sig)
        if proc is not None and proc.poll() is None and proc.pid != pid:
            stop_group(proc.pid, proc)  # ours, although another process restarted the endpoint since
        pid_file.unlink(missing_ok=True)

    def start_endpoint(self, name: str, timeout: float = 30.0) -> None:
        """Starts one stopped endpoint again on its port, with its credentials and data."""
        if port_open(self.endpoints[name].port):
            raise RuntimeError(f"{name}: port {self.endpoints[name].port} is still in use")
        self._spawn(name)
        self._wait(name, timeout)

    def running(self, name: str) -> bool:
        pid = recorded_pid(self.dir(name) / "versitygw.pid", str(self.dir(name) / "data").encode())
        return pid is not None and alive(pid, self.procs.get(name))

    def pids(self) -> dict[str, int]:
        """The running endpoints' process ids (by name)."""
        found = {n: recorded_pid(self.dir(n) / "versitygw.pid", str(self.dir(n) / "data").encode())
                 for n in self.endpoints}
        return {n: p for n, p in found.items() if p is not None and alive(p, self.procs.get(n))}

    def client(self, name: str) -> Any:
        import boto3
        from botocore.config import Config

        e = self.endpoints[name]
        return boto3.client("s3", endpoint_url=e.endpoint_url, region_name=e.signing_region,
                            aws_access_key_id=e.access_key_id, aws_secret_access_key=e.secret_access_key,
                            verify=str(self.tls.ca_file),
                            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10,
                                          s3={"addressing_style": "path"}))

    # --- internals ----------------------------------------------------------------------------------

    def _spawn(self, name: str) -> None:
        e, d = self.endpoints[name], self.dir(name)
        (d / "data").mkdir(parents=True, exist_ok=True)
        log = open(d / "versitygw.log", "ab")  # noqa: SIM115 - owned by the child process
        # Credentials through the environment: never on a command line that `ps` shows to every user.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ROOT_ACCESS_KEY": e.access_key_id,
               "ROOT_SECRET_KEY": e.secret_access_key}
        self.procs[name] = subprocess.Popen(
            [str(binary()), "--port", f"127.0.0.1:{e.port}", "--region", e.signing_region, "--quiet",
             "--cert", str(self.tls.cert_file), "--key", str(self.tls.key_file), "posix", str(d / "data")],
            env=env, cwd=d, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        (d / "versitygw.pid").write_text(f"{self.procs[name].pid}\n")

    def _wait(self, name: str, timeout: float) -> None:
        """Until the endpoint answers an authenticated ListBuckets over verified TLS."""
        proc, deadline, client = self.procs[name], time.monotonic() + timeout, None
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"VersityGW {name} exited with {proc.returncode}; "
                                   f"see {self.dir(name)}/versitygw.log")
            if port_open(self.endpoints[name].port):
                client = client or self.client(name)
                try:
                    client.list_buckets()
                    return
                except Exception:  # not serving yet (connection reset, 503): the deadline bounds this
                    if time.monotonic() > deadline:
                        raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"VersityGW {name} did not answer within {timeout:g} s; "
                                   f"see {self.dir(name)}/versitygw.log")
            time.sleep(0.05)

    def _ensure_bucket(self, name: str) -> None:
        client, bucket = self.client(name), self.endpoints[name].bucket
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)

    def _previous(self) -> dict[str, dict[str, Any]]:
        try:
            conf = json.loads(self.config_file.read_text())
            return {e["name"]: e for e in [*conf["regions"], conf["publisher"]]}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def _write(self) -> None:
        ca = self.tls.ca_file
        regions = [self.endpoints[n].entry(ca) for n in self.regions]
        conf = {"ca_file": str(ca), "regions": regions, "publisher": self.endpoints[PUBLISHER].entry(ca)}
        for path, body in ((self.config_file, conf), (self.region_map_file, {"regions": regions})):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(body, indent=2) + "\n")
            tmp.chmod(0o600)  # holds secrets
            tmp.replace(path)

    def public(self) -> dict[str, Any]:
        """What ``.run/endpoints.json`` lists: addresses and buckets, no credentials."""
        def shown(e: Endpoint) -> dict[str, Any]:
            return {"name": e.name, "endpoint_url": e.endpoint_url, "bucket": e.bucket}

        if not self.endpoints:
            return {}
        pub = shown(self.endpoints[PUBLISHER])
        del pub["name"]
        return {"regions": [shown(self.endpoints[n]) for n in self.regions], "publisher": pub}


if __name__ == "__main__":
    if sys.argv[1:2] != ["install"]:
        raise SystemExit(__doc__)
    install(quiet="--quiet" in sys.argv)
