"""Old portal links: mails sent before the portal's hash routes linked ``/portal/offers/{id}[/page]``.

The portal is a static app that routes on the URL fragment, so those paths would answer 404; this router
redirects them to the route they meant (``/portal/#/offers/{id}/{page}``). It must be included before the
static mount at ``/portal``. Current mails link the fragment routes directly (see the notifier's README).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

router = APIRouter(include_in_schema=False)

PAGES = frozenset({"editor", "status", "compare"})


def portal_route(rest: str, run_id: str | None) -> str:
    """The fragment route an old ``/portal/offers/<rest>`` link meant; unknown pages go to the status tab."""
    offer, _, page = rest.strip("/").partition("/")
    page = page.strip("/")
    base = f"/portal/#/offers/{quote(offer, safe='')}"
    if page == "support":
        # Old support links named the run only: the portal opens the form of that run's failed step.
        query = {"support": "failed", **({"run": run_id} if run_id else {})}
        return f"{base}/status?{urlencode(query)}"
    return f"{base}/{page if page in PAGES else 'status'}"


@router.get("/portal/offers/{rest:path}")
async def old_offer_link(rest: str, request: Request) -> RedirectResponse:
    if not rest.strip("/"):
        return RedirectResponse("/portal/#/offers", status_code=308)
    return RedirectResponse(portal_route(rest, request.query_params.get("run")), status_code=308)
