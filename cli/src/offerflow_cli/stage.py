"""`offerflow stage IMAGE`: the marketplace's staging boot check (QEMU), run locally before publishing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from offerflow_contract.events.staging import StagingReport
from offerflow_staging.adapters.ssh import SshUnavailable
from offerflow_staging.engine import BootSettings, QemuMissing, UnusableImage, boot_check, default_work_dir

EXIT_PASS, EXIT_FAIL, EXIT_UNUSABLE = 0, 1, 2
_STYLE = {"Passed": "green", "Warning": "yellow", "Failed": "bold red", "NotRun": "dim"}


def _print(console: Console, r: StagingReport) -> None:
    console.print(f"[bold]{r.location}[/bold]  accelerator {r.accelerator}  {r.seconds:.0f} s")
    table = Table("Check", "Result", "Seconds", "Actual", "Required")
    for c in r.checks:
        table.add_row(f"{c.name}\n[dim]{c.check_id}[/dim]", f"[{_STYLE[c.result]}]{c.result}[/]",
                      "-" if c.seconds is None else f"{c.seconds:.0f}", c.actual, c.required)
    console.print(table)
    if r.result == "Fail":
        console.print("[bold]Console, last lines:[/bold]")
        for line in r.console_tail:
            console.print(line, markup=False, highlight=False)
    verdict = "[bold green]Pass[/]" if r.result == "Pass" else "[bold red]Fail[/]"
    console.print(f"Result: {verdict}: ", end="")
    console.print(r.summary, markup=False, highlight=False)


def stage(
    image: Annotated[Path, typer.Argument(help="the OS disk: a fixed VHD or a raw disk file")],
    as_json: Annotated[bool, typer.Option("--json", help="print the staging report as JSON")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0,
                                           help="seconds from power-on to login (rootdelay= adds to it)")] = 300.0,
) -> None:
    """Boot the image under QEMU as staging will: exit 0 pass, 1 a check failed, 2 unusable input.

    Unusable: unreadable, not a fixed VHD or raw disk, or QEMU or the ssh client missing.
    """
    settings = BootSettings(work_dir=default_work_dir(), boot_timeout_seconds=timeout)
    try:
        report = asyncio.run(boot_check(image, plan_id="local", image_version="local", region="local",
                                        location=str(image), settings=settings))
    except (UnusableImage, QemuMissing, SshUnavailable) as exc:
        if as_json:
            typer.echo(json.dumps({"result": "Fail", "error": str(exc)}))
        else:
            Console(stderr=True).print(f"[bold red]cannot stage the image:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_UNUSABLE) from None
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print(Console(), report)
    raise typer.Exit(EXIT_PASS if report.result == "Pass" else EXIT_FAIL)

