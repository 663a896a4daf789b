"""The package inventory of a certified disk: the certification report's attachment, as JSON or CSV.

It is read from the certification outcome kept in the read model's event archive (the disk reports carry it), so
it is rebuilt from the topics with everything else and never enters the status document or its stream. The
operation must belong to the caller's offer first (another publisher's run is a plain 404).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from offerflow_contract.events import CertificationFailed, CertificationPassed, DiskReport
from offerflow_status_api.api.deps import OfferId, PublisherId, Services, Version
from offerflow_status_api.api.errors import ApiError
from offerflow_status_api.api.routes_publishing import OperationId

router = APIRouter(prefix="/api/publishers/{publisher_id}/offers/{offer_id}", tags=["publishing"])
_OUTCOMES = (CertificationPassed.event_type, CertificationFailed.event_type)
Name = Annotated[str | None, Query(max_length=50)]
_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "The installed packages (name, version, source, architecture), JSON or CSV"}}


class Package(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    source: str
    architecture: str


class InventoryDocument(BaseModel):
    """``format=json``: the disk, its package database and every package kept (``total`` counts them all)."""

    model_config = ConfigDict(frozen=True)

    runId: str
    planId: str
    imageVersion: str
    disk: str
    sha256: str | None = None
    format: str  # dpkg or rpm
    database: str
    total: int
    truncated: bool
    packages: list[Package]


async def _reports(s: Services, publisher_id: str, offer_id: str, run_id: str) -> list[DiskReport]:
    if await s.read_model.run_document(publisher_id, offer_id, run_id) is None:
        raise ApiError(404, "NotFound", f"Operation {run_id} was not found.")
    env = await s.read_model.run_event(run_id, _OUTCOMES)
    if env is None:
        raise ApiError(404, "NotFound", f"Operation {run_id} has no certification report yet.")
    event = env.event()
    assert isinstance(event, CertificationPassed | CertificationFailed)
    return event.reports


def pick(reports: list[DiskReport], plan: str | None, image_version: str | None, disk: str | None) -> DiskReport:
    """The one disk the query names; with no names, the only disk that has an inventory."""
    matching = [r for r in reports if r.packages is not None and (plan is None or r.plan_id == plan)
                and (image_version is None or r.image_version == image_version) and (disk is None or r.disk == disk)]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise ApiError(404, "NotFound", "No package inventory for this disk: only Linux OS disks whose package "
                       "database was read have one (see test 50 of the report).")
    names = ", ".join(f"plan={r.plan_id}&imageVersion={r.image_version}&disk={r.disk}" for r in matching)
    raise ApiError(400, "DiskRequired", f"Several disks have an inventory; name one ({names}).")


def document(run_id: str, r: DiskReport) -> dict[str, Any]:
    assert r.packages is not None
    inv = r.packages
    return {"runId": run_id, "planId": r.plan_id, "imageVersion": r.image_version, "disk": r.disk,
            "sha256": r.sha256, "format": inv.format, "database": inv.database, "total": inv.total,
            "truncated": inv.truncated, "packages": [p.model_dump() for p in inv.packages]}


@router.get("/operations/{operation_id}/certification/inventory", response_model=InventoryDocument, responses=_DOC,
            summary="The installed packages of a certified disk (the certification report's attachment)")
async def inventory(publisher_id: PublisherId, offer_id: OfferId, operation_id: OperationId, _: Version,
                    s: Services, plan: Name = None, imageVersion: Name = None,
                    disk: Name = None, format: Annotated[Literal["json", "csv"], Query()] = "json") -> Response:
    report = pick(await _reports(s, publisher_id, offer_id, operation_id), plan, imageVersion, disk)
    assert report.packages is not None
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", f"{operation_id}-{report.plan_id}-{report.image_version}-{report.disk}"
                                            "-packages")
    # The total is in a header too: a CSV has no room for it, and a cut list must not pass for the whole one.
    headers = {"Content-Disposition": f'attachment; filename="{stem}.{format}"', "X-Content-Type-Options": "nosniff",
               "X-Package-Total": str(report.packages.total)}
    if format == "csv":
        return Response(report.packages.csv(), media_type="text/csv; charset=utf-8", headers=headers)
    return JSONResponse(document(operation_id, report), headers=headers)
