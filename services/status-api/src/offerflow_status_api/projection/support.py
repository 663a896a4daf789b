"""The support desk's read model: the view ``support_desk`` (migration 010) folds each request from its events,
which a trigger copies from ``event_archive`` into ``support_events`` as the projection archives them (once per
event id). A rebuild from the topics, which empties and refills the archive, rebuilds it too."""

from __future__ import annotations

import json
from typing import Any

_COLUMNS = ("request_id, publisher_id, offer_id, run_id, step, title, contact_emails, opened_at, status, "
            "updated_at")


def _doc(r: Any, *, conversation: bool) -> dict[str, Any]:
    doc = {"id": r["request_id"], "publisherId": r["publisher_id"], "offerId": r["offer_id"], "runId": r["run_id"],
           "step": r["step"], "title": r["title"], "status": r["status"],
           "contactEmails": json.loads(r["contact_emails"]) if r["contact_emails"] else [],
           "openedAt": r["opened_at"].isoformat(), "updatedAt": r["updated_at"].isoformat()}
    if conversation:
        doc["conversation"] = [
            {"seq": m["seq"], "kind": m["kind"], "role": m["role"], "author": m["author"], "text": m["text"],
             "at": m["at"]} for m in json.loads(r["conversation"])]
    return doc


class SupportViews:
    """Queries of the support desk's read model (never used to decide a command)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def list(self, *, publisher_id: str | None = None, status: str | None = None,
                   offer_id: str | None = None, run_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first; every filter is optional (the admin sees every publisher's requests)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT {_COLUMNS} FROM support_desk
                    WHERE ($1::text IS NULL OR publisher_id = $1) AND ($2::text IS NULL OR status = $2)
                      AND ($3::text IS NULL OR offer_id = $3) AND ($4::text IS NULL OR run_id = $4)
                    ORDER BY opened_at DESC, request_id LIMIT $5""",
                publisher_id, status, offer_id, run_id, limit)
        return [_doc(r, conversation=False) for r in rows]

    async def get(self, request_id: str, *, publisher_id: str | None = None) -> dict[str, Any] | None:
        """One request with its conversation; another publisher's is None, like an unknown one."""
        async with self.pool.acquire() as conn:
            r = await conn.fetchrow(
                f"""SELECT {_COLUMNS}, conversation FROM support_desk
                    WHERE request_id = $1 AND ($2::text IS NULL OR publisher_id = $2)""", request_id, publisher_id)
        return _doc(r, conversation=True) if r else None
