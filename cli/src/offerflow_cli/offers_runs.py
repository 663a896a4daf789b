"""``offerflow offers publish/golive/cancel/status``: start a run or watch it to an end state."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Annotated, Any

import typer

from offerflow_cli import follow as f
from offerflow_cli.common import Cx, command
from offerflow_cli.exits import Exit, for_status
from offerflow_cli.output import cell, plain_text

Offer = Annotated[str, typer.Argument(help="Offer id.")]
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the run to reach an end state.")]
Follow = Annotated[bool, typer.Option("--follow", help="Show each step live while waiting (implies --wait).")]
Timeout = Annotated[float | None, typer.Option(help="Give up waiting after this many seconds (exit 13).")]
Poll = Annotated[float, typer.Option("--poll-interval", envvar="OFFERFLOW_POLL_INTERVAL", min=0.0,
                                     help="Seconds between status polls.")]


def operation_id(location: str) -> str:
    return location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def summarize(cx: Cx, offer: str, doc: dict[str, Any]) -> int:
    """Print how the run ended and return its exit code."""
    if cx.out.json:
        cx.out.doc(doc)
        return for_status(doc.get("status"))
    status = doc.get("status")
    run = f" (operation {doc.get('runId') or doc.get('id')})" if doc.get("runId") or doc.get("id") else ""
    if status == "waitingForPublisherReview":
        links = ", ".join(str(x) for x in doc.get("previewLinks") or []) or "-"
        cx.out.line(f"Offer {offer} is in preview{run}: {links}")
        cx.out.line(f"Waiting for publisher sign-off: `offerflow offers golive {offer}` or `... cancel {offer}`.")
    elif status == "failed":
        cx.out.line(f"Offer {offer} failed at step {doc.get('currentStep') or '-'}{run}:")
        for step, msg in f.error_messages(doc):
            cx.out.line(f"  {step}: {msg}")
        for line in f.staging_lines(doc):
            cx.out.line(f"  {line}")
    elif status == "canceled":
        cx.out.line(f"Offer {offer} was canceled{run}.")
    elif status == "succeeded":
        links = ", ".join(str(x) for x in doc.get("liveLinks") or []) or "-"
        cx.out.line(f"Offer {offer} is live{run}: {links}")
    else:
        cx.out.line(f"Offer {offer} is {status} at step {doc.get('currentStep') or '-'}{run}.")
    return for_status(status)


def wait_for(cx: Cx, offer: str, fetch: Callable[[], dict[str, Any] | None], ends: Collection[str], *,
             show: bool, timeout: float | None, interval: float) -> int:
    outcome = f.follow(fetch, ends, cx.out, timeout=timeout, interval=interval, show=show)
    if outcome.timed_out:
        last = outcome.doc or {}
        if cx.out.json:
            cx.out.doc(last)
        cx.out.note(f"Timed out after {timeout:g}s: offer {offer} is {last.get('status', 'starting')} at step "
                    f"{last.get('currentStep') or '-'}. The run goes on; resume with "
                    f"`offerflow offers status {offer} --follow`.")
        return Exit.TIMED_OUT
    assert outcome.doc is not None
    return summarize(cx, offer, outcome.doc)


def publish(cx: Cx, offer: Offer,
            emails: Annotated[str, typer.Option("--emails", envvar="OFFERFLOW_NOTIFICATION_EMAILS",
                                                help="Comma-separated notification e-mails.")],
            wait: Wait = False, follow: Follow = False, timeout: Timeout = None, poll_interval: Poll = 1.0) -> int:
    """Publish the draft: validation, certification, provisioning, packaging, up to preview."""
    with cx.client() as c:
        location = c.publish(cx.publisher, offer, emails)
        cx.out.note(f"Publish accepted: operation {operation_id(location)}.")
        if not (wait or follow):
            if cx.out.json:
                cx.out.doc({"location": location, "operationId": operation_id(location)})
            else:
                cx.out.line(f"Follow it with `offerflow offers status {offer} --follow`.")
            return Exit.OK
        return wait_for(cx, offer, lambda: c.operation(location), f.PREVIEW_ENDS, show=follow, timeout=timeout,
                        interval=poll_interval)


def golive(cx: Cx, offer: Offer, wait: Wait = False, follow: Follow = False, timeout: Timeout = None,
           poll_interval: Poll = 1.0) -> int:
    """Sign off the preview and make the offer live."""
    with cx.client() as c:
        location = c.golive(cx.publisher, offer)
        cx.out.note(f"Go live accepted: operation {operation_id(location)}.")
        if not (wait or follow):
            if cx.out.json:
                cx.out.doc({"location": location, "operationId": operation_id(location)})
            return Exit.OK
        return wait_for(cx, offer, lambda: c.operation(location), f.LIVE_ENDS, show=follow, timeout=timeout,
                        interval=poll_interval)


def cancel(cx: Cx, offer: Offer, wait: Wait = True, timeout: Timeout = 120.0, poll_interval: Poll = 1.0) -> int:
    """Cancel a run waiting at publisher sign-off (exit 12 once canceled)."""
    with cx.client() as c:
        reply = c.cancel(cx.publisher, offer)
        doc = reply.body if isinstance(reply.body, dict) else {}
        if reply.status == 200 and doc.get("status"):
            return summarize(cx, offer, doc)
        location = reply.headers.get("Location", "")
        cx.out.note(f"Cancel accepted: operation {operation_id(location) if location else '-'}.")
        if not wait or not location:
            if cx.out.json:
                cx.out.doc(doc or {"location": location})
            return Exit.OK
        return wait_for(cx, offer, lambda: c.operation(location), {"canceled", "failed", "succeeded"},
                        show=False, timeout=timeout, interval=poll_interval)


def _print_steps(cx: Cx, offer: str, doc: dict[str, Any]) -> None:
    steps = doc.get("steps") or []
    rows = [[cell(s.get("id")), cell(s.get("stepName")), cell(s.get("status")),
             cell(s.get("progressPercentage")), cell(s.get("estimatedTimeFrame")), cell(f.latest_message(s))]
            for s in steps]
    cx.out.line(f"Offer {offer}: {doc.get('status')}" + (f" (operation {doc['runId']}, version "
                                                          f"{doc.get('offerVersion')})" if doc.get("runId") else ""))
    cx.out.table(doc, [(t, t) for t in ("id", "step", "status", "%", "eta", "latest message")], rows)
    if not cx.out.json:
        for line in f.staging_lines(doc):
            cx.out.line(line)


def status(cx: Cx, offer: Offer, follow: Follow = False, timeout: Timeout = None, poll_interval: Poll = 1.0) -> int:
    """Show the current run; exit with its state's code. --follow waits for an end state (resumable)."""
    with cx.client() as c:
        if follow:
            return wait_for(cx, offer, lambda: c.status(cx.publisher, offer), f.STATUS_ENDS, show=True,
                            timeout=timeout, interval=poll_interval)
        doc = c.status(cx.publisher, offer)
    _print_steps(cx, offer, doc)
    if doc.get("status") == "failed" and not cx.out.json:
        for step, msg in f.error_messages(doc):
            cx.out.line(f"  {step}: {plain_text(msg)}")
    return for_status(doc.get("status"))


def register(app: typer.Typer) -> None:
    app.command("publish")(command()(publish))
    app.command("golive")(command()(golive))
    app.command("cancel")(command()(cancel))
    app.command("status")(command()(status))
