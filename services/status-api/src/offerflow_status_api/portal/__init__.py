"""The publisher portal: static HTML, CSS and ES modules, a client of the public API like any script.

Served by the API process at ``/portal/`` (same origin, so no CORS); it has no server-side code of its own.
It routes on the URL fragment, so every deep link is ``/portal/#/<route>`` and the server only ever serves
``/portal/``: ``#/offers``, ``#/offers/{id}/{editor|status|compare}``, and
``#/offers/{id}/status?support={step}&run={run}`` (the Status tab with the support request form of that
step open; the notifier's mails link these). A signed-out visitor gets ``#/signin?next=<route>`` and lands
on the route after signing in. Old ``/portal/offers/…`` paths are redirected by ``api/routes_portal.py``.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

