"""The egress settings of a development stack: its own endpoints named as exceptions, a per-run file root.

Every guard of ``offerflow_shared.egress`` stays on in development. Offer URLs may still reach the stack's
publisher object store (where publishers' images live, https on 127.0.0.1, read through presigned URLs) and
Azurite (the lead destinations' storage account) because this module names exactly those host:port pairs.
Anything else on this machine is refused like any private address: the database, Kafka, the API, the mail sink,
and the region stores too (provisioning writes those through its region map, never through an offer's URL, so
an offer has no reason to name one). ``file://`` offer URLs are read
only under ``<run_dir>/files/<publisher>/``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ALLOWED = "OFFERFLOW_EGRESS_ALLOWED_ENDPOINTS"
FILE_ROOT = "OFFERFLOW_FILE_URL_ROOT"


def file_root(stack: Any) -> Path:
    """Where publishers' ``file://`` images and logos go in this run: ``<root>/<publisher id>/…``."""
    named = os.environ.get(FILE_ROOT)
    return Path(named) if named else Path(stack.run_dir) / "files"


def _endpoint(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


def _store_urls(stack: Any) -> list[str]:
    """The publisher endpoint of the run's object stores (none before the infrastructure has started)."""
    try:
        conf = json.loads(Path(stack.objectstores_file).read_text())
    except (OSError, ValueError, TypeError):
        return []  # not started yet: env() also serves the infrastructure's own start
    publisher = conf.get("publisher") or {}
    url = publisher.get("endpoint_url") if isinstance(publisher, dict) else None
    return [url] if isinstance(url, str) else []


def _azurite_urls(stack: Any) -> list[str]:
    conn = os.environ.get("OFFERFLOW_AZURITE_CONNECTION_STRING", "")
    if not conn:
        try:
            conn = stack.azurite_connection_string
        except (OSError, ValueError, AttributeError):
            conn = ""
    return re.findall(r"(?:Blob|Table|Queue)Endpoint=([^;]+)", conn)


def env(stack: Any) -> dict[str, str]:
    """The two variables for the services of ``stack`` (merged with endpoints the caller's environment names)."""
    named = {e.strip() for e in os.environ.get(ALLOWED, "").split(",") if e.strip()}
    named |= {e for e in map(_endpoint, [*_store_urls(stack), *_azurite_urls(stack)]) if e}
    root = file_root(stack)
    root.mkdir(parents=True, exist_ok=True)
    return {ALLOWED: ",".join(sorted(named)), FILE_ROOT: str(root)}
