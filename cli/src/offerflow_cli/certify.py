"""`offerflow certify IMAGE`: the marketplace's certifier, run locally before publishing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from offerflow_certification import inventory, report
from offerflow_certification.adapters.source import ImageIntake
from offerflow_certification.image.certifier import Profile
from offerflow_certification.image.findings import ImageError
from offerflow_certification.image.packages import Inventory
from offerflow_contract.events import DiskReport
from offerflow_shared.egress_policy import EgressPolicy
from offerflow_shared.settings import CommonSettings
from offerflow_shared.sources import UrlDiskSource

EXIT_PASS, EXIT_FAIL, EXIT_UNREADABLE = 0, 1, 2
_LIMIT = 1024 * 1024**3 + 512
_STYLE = {"Passed": "green", "Warning": "yellow", "Failed": "bold red"}


def _url(image: str) -> str:
    return image if "://" in image else Path(image).resolve().as_uri()


async def _certify(url: str, profile: Profile) -> tuple[DiskReport, Inventory | None]:
    chunk = 4 * 1024 * 1024
    # The publisher's own machine: their files are theirs to read (local_files). URLs go through the same egress
    # policy as the services, with the endpoints OFFERFLOW_EGRESS_ALLOWED_ENDPOINTS names (a dev object store).
    common = CommonSettings()
    source = ImageIntake(UrlDiskSource(max_bytes=_LIMIT, chunk_bytes=chunk, local_files=True,
                                       policy=EgressPolicy.from_settings(common), ca_file=common.trusted_ca_file),
                         chunk_bytes=chunk)
    disk = report.DiskId(plan_id="local", image_version="local", disk="os" if profile.os_disk else "data", url=url)
    async with source.fetch(url) as local:
        findings, os_run = await asyncio.to_thread(report.run_tests, local, profile)
        return report.build(disk, local, findings, os_run), os_run.inventory


def _print(console: Console, r: DiskReport) -> None:
    console.print(f"[bold]{r.url}[/bold]  {r.size_bytes} bytes  SHA-256 {r.sha256}")
    console.print(f"OS: {r.os_name or '-'}  kernel: {r.kernel_version or '-'}  certifier {r.certifier_version}")
    table = Table("Test", "Result", "Actual", "Required", show_lines=False)
    for t in r.tests:
        table.add_row(f"{t.number} {t.test_case_name}\n[dim]{t.test_id}[/dim]", f"[{_STYLE[t.result]}]{t.result}[/]",
                      t.actual_value, t.required_value)
    console.print(table)
    failed = [t.test_case_name for t in r.tests if t.result == "Failed"]
    warned = sum(t.result == "Warning" for t in r.tests)
    verdict = (f"[bold red]Fail[/]: {', '.join(failed)}" if failed
               else "[bold green]Pass[/]" + (f" [yellow]with {warned} warning(s)[/]" if warned else ""))
    console.print(f"TestResult: {verdict}")


def _write_inventory(path: Path, packages: Inventory | None) -> None:
    """The whole inventory (the report on the topic carries a bounded one); none read is said on stderr."""
    if packages is None:
        Console(stderr=True).print(f"[yellow]no package inventory read from the image: {path} not written[/]")
        return
    whole = inventory.full(packages)
    body = whole.csv() if path.suffix.lower() == ".csv" else whole.model_dump_json(indent=2) + "\n"
    try:
        path.write_text(body, encoding="utf-8", newline="")
    except OSError as exc:
        Console(stderr=True).print(f"[bold red]cannot write {path}:[/] {exc.strerror or exc}")
        raise typer.Exit(EXIT_UNREADABLE) from None


def certify(
    image: Annotated[str, typer.Argument(help="VHD file (path or file:// URL) or an http(s):// URL")],
    as_json: Annotated[bool, typer.Option("--json", help="print the report in the self-test JSON shape")] = False,
    data_disk: Annotated[bool, typer.Option("--data-disk", help="certify as a data disk (no OS tests)")] = False,
    approved_base: Annotated[bool, typer.Option("--approved-base",
                                                help="built from an approved base (skips the first-MiB rule)")] = False,
    inventory_file: Annotated[Path | None, typer.Option(
        "--inventory", help="write the image's installed packages to this file: CSV if it ends in .csv, else JSON",
        dir_okay=False)] = None,
) -> None:
    """Certify a VM disk image exactly as the marketplace will: exit 0 pass, 1 a test failed, 2 unreadable."""
    console = Console()
    try:
        result, packages = asyncio.run(_certify(_url(image), Profile(os_disk=not data_disk,
                                                                      approved_base=approved_base)))
    except ImageError as exc:
        if as_json:
            typer.echo(json.dumps({"TestResult": "Fail", "Error": exc.message}))
        else:
            Console(stderr=True).print(f"[bold red]cannot read the image:[/] {exc.message}")
        raise typer.Exit(EXIT_UNREADABLE) from None
    if inventory_file is not None:
        _write_inventory(inventory_file, packages)
    if as_json:
        typer.echo(json.dumps(report.self_test_document(result), indent=2))
    else:
        _print(console, result)
    raise typer.Exit(EXIT_PASS if result.test_result == "Pass" else EXIT_FAIL)
