"""``offerflow offers``: the offer document, its validation, history and image versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from offerflow_cli.client import ApiRefused
from offerflow_cli.common import Cx, command
from offerflow_cli.config import ConfigError
from offerflow_cli.exits import Exit
from offerflow_cli.output import cell

Offer = Annotated[str, typer.Argument(help="Offer id.")]


def list_offers(cx: Cx) -> int:
    """List the publisher's offers with their status and current step."""
    with cx.client() as c:
        offers = c.list_offers(cx.publisher)
    rows = [[cell(o.get("id")), cell(o.get("version")), cell(o.get("status")), cell(o.get("currentStep")),
             cell(o.get("stepSince")), cell((o.get("definition") or {}).get("displayText")),
             cell(o.get("changedTime"))] for o in offers]
    cols = [(t, t) for t in ("id", "version", "status", "currentStep", "stepSince", "displayText", "changedTime")]
    cx.out.table(offers, cols, rows)
    return Exit.OK


def get(cx: Cx, offer: Offer,
        slot: Annotated[str | None, typer.Option(help="Draft, Preview or Production.")] = None,
        version: Annotated[int | None, typer.Option(help="A published version number.")] = None) -> int:
    """Print the offer document (the draft, a slot, or a published version)."""
    if slot and version is not None:
        raise ConfigError("Give --slot or --version, not both.")
    if slot and slot.capitalize() not in ("Draft", "Preview", "Production"):
        raise ConfigError("--slot must be Draft, Preview or Production.")
    with cx.client() as c:
        reply = c.get_offer(cx.publisher, offer, version=version, slot=slot.capitalize() if slot else None)
    if reply.headers.get("ETag"):
        cx.out.note(f"ETag: {reply.headers['ETag']}")
    cx.out.doc(reply.body)
    return Exit.OK


def _read_json(file: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        doc = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read an offer document from {file}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{file} must hold one JSON object (the offer document).")
    return doc


def put(cx: Cx, offer: Offer, file: Annotated[str, typer.Argument(help="Offer JSON file, or - for stdin.")],
        if_match: Annotated[str | None, typer.Option(
            "--if-match", help="ETag the change is based on, or * to overwrite (default: the current ETag).")]
        = None) -> int:
    """Create or replace the offer document."""
    doc = _read_json(file)
    with cx.client() as c:
        if not if_match:
            try:
                if_match = c.get_offer(cx.publisher, offer).headers.get("ETag") or "*"
            except ApiRefused as exc:
                if exc.status != 404:
                    raise
                if_match = "*"  # a new offer: nothing to be stale against
        reply = c.put_offer(cx.publisher, offer, doc, if_match)
    verb = "Created" if reply.status == 201 else "Updated"
    cx.out.note(f"{verb} offer {offer} (ETag {reply.headers.get('ETag', '-')}).")
    if cx.out.json:
        cx.out.doc(reply.body)
    return Exit.OK


def validate(cx: Cx, offer: Offer) -> int:
    """Check the draft; exit 11 if any problem is an error."""
    with cx.client() as c:
        result = c.validation(cx.publisher, offer)
    problems = result.get("problems") or []
    rows = [[cell(p.get("level")), cell(p.get("field")), cell(p.get("code")), cell(p.get("message"))]
            for p in problems]
    cx.out.table(result, [("level", "level"), ("field", "field"), ("code", "code"), ("message", "message")], rows)
    errors = [p for p in problems if p.get("level") == "error"]
    if errors:
        cx.out.note(f"{len(errors)} error(s): the offer cannot be published until they are fixed.")
        return Exit.FAILED
    if not problems:
        cx.out.line(f"Offer {offer} has no problems.")
    return Exit.OK


def history(cx: Cx, offer: Offer) -> int:
    """What happened to the offer, oldest first."""
    with cx.client() as c:
        entries = c.history(cx.publisher, offer)
    rows = [[cell(e.get("time")), cell(e.get("kind") or e.get("by")), cell(e.get("action") or e.get("event")),
             cell(e.get("outcome")), cell(e.get("runId")), cell(e.get("detail"))] for e in entries]
    cols = [(t, t) for t in ("time", "kind", "action", "outcome", "runId", "detail")]
    cx.out.table(entries, cols, rows)
    return Exit.OK


def staging_console(cx: Cx, offer: Offer,
                    run: Annotated[str, typer.Argument(help="The operation (run) id, as `offers status` shows it.")],
                    plan: Annotated[str | None, typer.Option(help="The plan whose boot to show (needed when the "
                                                                  "run booted several plans).")] = None) -> int:
    """Print the console log of a plan's staging boot, as the VM wrote it."""
    with cx.client() as c:
        text = c.staging_console(cx.publisher, offer, run, plan)
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    return Exit.OK


def _lun(spec: str) -> dict[str, Any]:
    lun, sep, url = spec.partition("=")
    if not sep or not lun.strip().isdigit() or not url:
        raise ConfigError(f"--lun {spec!r}: expected LUN=URL, e.g. --lun 0=https://…/data0.vhd")
    return {"lun": int(lun), "lunVhdUrl": url}


def add_version(cx: Cx, offer: Offer, plan: Annotated[str, typer.Argument(help="Plan id.")],
                version: Annotated[str, typer.Argument(help="Image version, e.g. 2024.05.01 or 1.2.3.")],
                os_vhd_url: Annotated[str, typer.Option("--os-vhd-url", help="OS disk VHD URL.")],
                lun: Annotated[list[str] | None, typer.Option(help="Data disk as LUN=URL (repeatable).")] = None,
                label: Annotated[str | None, typer.Option(help="Label shown for the version.")] = None,
                description: Annotated[str | None, typer.Option(help="Version description.")] = None) -> int:
    """Add an image version to a plan without rewriting the offer (safe to repeat)."""
    body: dict[str, Any] = {"osVhdUrl": os_vhd_url, "lunVhdDetails": [_lun(s) for s in lun or []]}
    if label:
        body["label"] = label
    if description:
        body["description"] = description
    with cx.client() as c:
        reply = c.add_version(cx.publisher, offer, plan, version, body)
    if reply.status == 409:
        err = (reply.body or {}).get("error") or {} if isinstance(reply.body, dict) else {}
        cx.out.error(f"Refused (409 {err.get('code', 'Conflict')}): {err.get('message', '')}\n"
                     f"Version {version} of plan {plan} already exists with different content; versions are "
                     "immutable, so publish the new image under a new version. Retrying will not help.",
                     reply.body if isinstance(reply.body, dict) else {})
        return Exit.REFUSED
    if reply.status == 201:
        cx.out.line(f"Added version {version} to plan {plan} of offer {offer}.")
    else:
        cx.out.line(f"Version {version} of plan {plan} is already there with the same content; nothing changed.")
    if cx.out.json:
        cx.out.doc(reply.body)
    return Exit.OK


def register(app: typer.Typer) -> None:
    app.command("list")(command()(list_offers))
    app.command("get")(command()(get))
    app.command("put")(command()(put))
    app.command("validate")(command()(validate))
    app.command("history")(command()(history))
    app.command("add-version")(command()(add_version))
    app.command("staging-console")(command()(staging_console))
