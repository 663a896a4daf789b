"""The publisher portal: static HTML, CSS and ES modules, a client of the public API like any script.

Served by the API process at ``/portal/`` (same origin, so no CORS); it has no server-side code of its own.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

