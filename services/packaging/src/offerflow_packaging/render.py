"""The product page: one Jinja2 template, rendered from the listing alone."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from offerflow_packaging.sanitize import clean_html

PREVIEW_BANNER = "Preview — visible only to the whitelisted subscriptions"
# A preview's assets need the viewer's credential, known only when the page is served: the storefront
# replaces this placeholder in the stored preview page with the query of the (verified) preview link.
ACCESS_TOKEN = "__OFFERFLOW_PREVIEW_ACCESS__"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("offerflow_packaging", "templates"),
        # Every publisher-controlled value is escaped, whatever the template's name; only ``sanitised``
        # (cleaned HTML) is marked safe.
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    # Cleaned again at render time: the page never trusts HTML it did not just sanitise itself.
    env.filters["sanitised"] = lambda value: Markup(clean_html(value))
    return env


def asset_url(slug: str, path: str, *, preview: bool) -> str:
    """Where the storefront serves a listing's ``assets/<file>`` for the preview or the live page."""
    if preview:
        return f"/preview/{slug}/{path}?{ACCESS_TOKEN}"
    return f"/apps/{slug}/{path}"


def render_page(listing: dict[str, Any], *, preview: bool, audience_size: int = 0) -> str:
    template = environment().get_template("page.html")
    slug = str(listing["slug"])
    return template.render(
        listing=listing,
        preview=preview,
        banner=PREVIEW_BANNER,
        audience_size=audience_size,
        asset=lambda path: asset_url(slug, path, preview=preview),
    )
