"""Formats: what a PUT must reject with 400 (patterns, lengths, enums, types), never presence."""

from __future__ import annotations

from typing import Any

from offerflow_contract.events import Reason
from offerflow_shared.offer import MARKETPLACE
from offerflow_shared.offer_model import Definition, OfferDocument
from offerflow_shared.offer_rules.common import as_dict, as_list, error, model_problems, ptr
from offerflow_shared.offer_rules.leads import lead_format_problems
from offerflow_shared.offer_types import is_url

OPEN_PORTS = "microsoft-azure-virtualmachines.openPorts"
MAX_SUBCATEGORIES = 2


def format_problems(document: dict[str, Any]) -> list[Reason]:
    """Every format problem of a whole offer document; pointers are into the document (``/definition/…``)."""
    if not isinstance(document, dict):
        return [error("invalid_type", "", "The offer document must be a JSON object.")]
    out = model_problems(OfferDocument, document)
    definition = document.get("definition")
    if isinstance(definition, dict):
        out += [r.model_copy(update={"field": "/definition" + (r.field or "")}) for r in _extra(definition)]
    return out


def definition_format_problems(definition: dict[str, Any]) -> list[Reason]:
    """The same rules on the ``definition`` alone; pointers are into the definition (``/offer/…``)."""
    return model_problems(Definition, definition) + _extra(definition)


def _extra(definition: dict[str, Any]) -> list[Reason]:
    """Item formats the models leave open because real documents vary in shape."""
    offer = as_dict(definition.get("offer"))
    out = lead_format_problems(offer)
    for i, category in enumerate(as_list(offer.get(MARKETPLACE + "categoryMap"))):
        l1 = as_dict(category).get("categoryL1")
        subs = as_dict(category).get(f"categoryL2-{l1}")
        if isinstance(subs, list) and len(subs) > MAX_SUBCATEGORIES:
            out.append(error("too_many", ptr("offer", MARKETPLACE + "categoryMap", i, f"categoryL2-{l1}"),
                             f"Category {l1} has {len(subs)} subcategories; at most {MAX_SUBCATEGORIES}."))
    for i, shot in enumerate(as_list(offer.get(MARKETPLACE + "screenshots"))):
        url = screenshot_url(shot)
        if url is None or not is_url(url, ("https", "http", "file")):
            out.append(error("invalid_url", ptr("offer", MARKETPLACE + "screenshots", i),
                             "A screenshot is an image URL (or an object with its 'uri')."))
    for i, plan in enumerate(as_list(definition.get("plans"))):
        for j, port in enumerate(as_list(as_dict(plan).get(OPEN_PORTS))):
            if not _is_port(port):
                out.append(error("invalid_port", ptr("plans", i, OPEN_PORTS, j),
                                 "An open port is {\"port\": 1-65535, \"protocol\": \"TCP\"|\"UDP\"} or '8080/TCP'."))
    return out


def screenshot_url(item: Any) -> str | None:
    """A screenshot is a URL, or an object carrying it as ``uri`` (the original API) or ``url``."""
    if isinstance(item, dict):
        item = item.get("uri") or item.get("url")
    return item if isinstance(item, str) else None


def _is_port(value: Any) -> bool:
    if isinstance(value, dict):
        port, protocol = value.get("port"), str(value.get("protocol", "TCP")).upper()
    elif isinstance(value, str):
        port_text, _, protocol = value.partition("/")
        port, protocol = (int(port_text) if port_text.isdigit() else None), (protocol or "TCP").upper()
    else:
        port, protocol = value, "TCP"
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    return isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535 and protocol in ("TCP", "UDP")
