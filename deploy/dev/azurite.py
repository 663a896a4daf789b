"""Azurite, the local Azure Storage emulator (npm package ``azurite``, MIT): install it pinned and run it.

The Azure Table and Azure Blob lead destinations are tested against it, and ``make up`` starts one so an
offer can name a real storage account on this machine. It is installed outside the repository, in
``$OFFERFLOW_CACHE`` (default ``~/.cache/offerflow``), with ``npm install --prefix``; ``install`` is silent
and takes milliseconds when the pinned version is already there. Runs use free ports, keep their data under
the run directory and have their own process group, so stopping never leaves a node process behind.

    python deploy/dev/azurite.py install [--quiet]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from procs import free_port, port_open, recorded_pid, stop_group  # the stack's helpers (deploy/dev is on the path)

VERSION = "3.37.0"
ACCOUNT = "devstoreaccount1"
# Azurite's documented development key (public, identical in every installation).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def home() -> Path:
    cache = Path(os.environ.get("OFFERFLOW_CACHE") or Path.home() / ".cache" / "offerflow")
    return cache / f"azurite-{VERSION}"


def binary() -> Path:
    return home() / "node_modules" / ".bin" / "azurite"


def installed() -> bool:
    try:
        meta = json.loads((home() / "node_modules" / "azurite" / "package.json").read_text())
    except (OSError, ValueError):
        return False
    return meta.get("version") == VERSION and binary().exists()


def install(quiet: bool = False) -> None:
    if installed():
        if not quiet:
            print(f"azurite {VERSION} already in {home()}")
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("azurite: npm (Node.js 20) is needed to install Azurite; install nodejs and npm")
    print(f"install: azurite {VERSION} into {home()} (npm, about a minute)", flush=True)
    tmp = home().with_name(home().name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        subprocess.run([npm, "install", "--prefix", str(tmp), "--no-audit", "--no-fund", "--save-exact",
                        "--loglevel=error", f"azurite@{VERSION}"], check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(home(), ignore_errors=True)
        tmp.rename(home())  # the bin links are relative, so the tree works from its final place
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Azurite:
    """One Azurite process (blob, queue and table services) with its data and log under ``run_dir``."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.blob_port = self.table_port = self.queue_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "azurite.pid"

    def connection_string(self) -> str:
        """What a publisher pastes as the lead destination's connection string (path-style endpoints)."""
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{ACCOUNT};"
                f"TableEndpoint=http://127.0.0.1:{self.table_port}/{ACCOUNT};")

    def start(self, timeout: float = 60.0) -> None:
        if not installed():
            raise RuntimeError(f"Azurite {VERSION} is not installed in {home()}: run scripts/install")
        self.stop()  # one left behind by an earlier run of the same directory
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.blob_port, self.table_port, self.queue_port = free_port(), free_port(), free_port()
        log = open(self.run_dir / "azurite.log", "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(
            [str(binary()), "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
             "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
             "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
             "--location", str(self.run_dir / "data"), "--loose", "--skipApiVersionCheck",
             "--disableTelemetry", "--silent"],
            cwd=self.run_dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(f"{self.proc.pid}\n")
        deadline = time.monotonic() + timeout
        while not (port_open(self.blob_port) and port_open(self.table_port)):
            if self.proc.poll() is not None:
                raise RuntimeError(f"Azurite exited with {self.proc.returncode}; see {self.run_dir}/azurite.log")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Azurite did not listen within {timeout:g} s; see {self.run_dir}/azurite.log")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stops this process group (or the one recorded in the pid file by another invocation)."""
        pid = self.proc.pid if self.proc is not None else recorded_pid(self.pid_file, b"azurite")
        if pid is not None:
            stop_group(pid, self.proc)
        elif self.proc is not None:
            self.proc.wait()
        self.proc = None
        self.pid_file.unlink(missing_ok=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["install"]:
        raise SystemExit(__doc__)
    install(quiet="--quiet" in sys.argv)
