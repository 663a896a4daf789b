"""The `offerflow` commands of deploy/README.md's runbook exist, with every option they use."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer

from offerflow_cli.main import _register, app

README = Path(__file__).resolve().parents[2] / "deploy" / "README.md"


def runbook_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Runbook\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line.split(" #", 1)[0].strip() for block in blocks for line in block.splitlines()
            if line.startswith("offerflow ")]


def check(command: str, root: Any) -> None:
    words = [w.strip("[]") for w in shlex.split(command)[1:]]
    cmd = root
    while hasattr(cmd, "commands") and words and not words[0].startswith("-"):  # a group: descend
        sub = cmd.commands.get(words[0])
        assert sub is not None, f"{command!r}: no subcommand {words[0]!r} under {cmd.name!r}"
        cmd, words = sub, words[1:]
    assert not hasattr(cmd, "commands"), f"{command!r} names a group, not a command"
    options = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
    for w in words:
        if w.startswith("--"):
            assert w.split("=", 1)[0] in options, f"{command!r}: {cmd.name} has no option {w} ({sorted(options)})"


def test_every_offerflow_command_of_the_runbook_exists_with_its_options() -> None:
    commands = runbook_commands()
    # The runbook's sections: lag needs none; dead letters and the read model do.
    assert any(c.startswith("offerflow dlq replay") for c in commands)
    assert any(c.startswith("offerflow dlq list") for c in commands)
    assert any(c.startswith("offerflow projection rebuild") for c in commands)
    _register()
    root = typer.main.get_command(app)
    for command in commands:
        check(command, root)


def test_the_check_fails_on_a_command_or_option_that_does_not_exist() -> None:
    _register()
    root = typer.main.get_command(app)
    for wrong in ("offerflow dlq purge --yes", "offerflow dlq replay --everything", "offerflow projection drop"):
        try:
            check(wrong, root)
        except AssertionError:
            continue
        raise AssertionError(f"{wrong!r} passed the check")
