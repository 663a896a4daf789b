"""Where the CLI finds the API: flags, then environment (both via Typer), then ``.run/endpoints.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENDPOINTS = Path(".run") / "endpoints.json"


class ConfigError(Exception):
    """A setting the command needs is missing (a usage error, exit 2)."""


def find_endpoints(start: Path | None = None) -> Path | None:
    """``.run/endpoints.json`` in the current directory or an ancestor, up to the repository root."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / ENDPOINTS
        if candidate.is_file():
            return candidate
        if (d / ".git").exists():  # the repository root: do not pick up another checkout's stack
            return None
    return None


def load_endpoints(start: Path | None = None) -> dict[str, Any]:
    path = find_endpoints(start)
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Config:
    api_url: str | None
    token: str | None
    publisher: str | None
    admin_token: str | None

    @classmethod
    def resolve(cls, api_url: str | None, token: str | None, publisher: str | None,
                admin_token: str | None, start: Path | None = None) -> Config:
        # `make up` users get everything from the file; anything given explicitly wins.
        file: dict[str, Any] = {}
        if None in (api_url, token, publisher, admin_token):
            file = load_endpoints(start)

        def pick(given: str | None, key: str) -> str | None:
            value = given if given else file.get(key)
            return str(value) if value else None

        return cls(api_url=pick(api_url, "api_url"), token=pick(token, "token"),
                   publisher=pick(publisher, "publisher"), admin_token=pick(admin_token, "admin_token"))

    def need_api_url(self) -> str:
        if not self.api_url:
            raise ConfigError("No API URL: pass --api-url, set OFFERFLOW_API_URL, or run `make up` "
                              "(which writes .run/endpoints.json).")
        return self.api_url

    def need_publisher(self) -> str:
        if not self.publisher:
            raise ConfigError("No publisher: pass --publisher or set OFFERFLOW_PUBLISHER.")
        return self.publisher


def brokers(value: str) -> tuple[str, ...]:
    """The ``HOST:PORT`` entries of a comma-separated bootstrap list (``h1:9092,h2:9092,[::1]:9092``), in order.

    Checked here so that a typo is a usage error naming the entry, not a connection error much later.
    """
    out: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        host, sep, port = entry.rpartition(":")
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not entry or not sep or not bare or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"Bad Kafka bootstrap entry {entry!r} in {value!r}: expected HOST:PORT, several "
                              "separated by commas (e.g. kafka-1:9092,kafka-2:9092).")
        if entry not in out:
            out.append(entry)
    return tuple(out)


def kafka_bootstrap(given: str | None, start: Path | None = None) -> str:
    """``--bootstrap`` / ``OFFERFLOW_KAFKA_BOOTSTRAP`` (both via Typer), else ``kafka_bootstrap`` of the file;
    one broker or a comma-separated list, returned checked and normalised (``h1:p1,h2:p2``)."""
    value = given or load_endpoints(start).get("kafka_bootstrap")
    if not value:
        raise ConfigError("No Kafka bootstrap: pass --bootstrap HOST:PORT[,HOST:PORT…], set "
                          "OFFERFLOW_KAFKA_BOOTSTRAP, or run `make up` (which writes .run/endpoints.json).")
    return ",".join(brokers(str(value)))
