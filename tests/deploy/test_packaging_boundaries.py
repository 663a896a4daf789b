"""What a service ships: no test-only library at run time, and the development mail sink only as an extra.

Read from the manifests, the lock file (the set of packages `uv sync --frozen --no-dev` installs, i.e. the image)
and the sources, so a dependency moved back into a service fails here rather than in an image review.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from .workspace import ROOT, workspace_members

TEST_ONLY = {"pytest", "moto", "hypothesis", "schemathesis", "playwright", "ruff", "mypy", "kubernetes-validate"}
SINK_ONLY = {"aiosmtpd"}  # aiohttp stays: Faust's web server needs it anyway
SINK_MODULE = "offerflow_notifier.sink"
LOCK: dict[str, Any] = tomllib.loads((ROOT / "uv.lock").read_text())
PACKAGES = {p["name"]: p for p in LOCK["package"]}


def project(member: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]
    return data


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def installed_without_dev(root: str = "offerflow", groups: tuple[str, ...] = ()) -> set[str]:
    """Every locked package reached from the root's dependencies (and ``groups``), extras followed."""
    wanted = [(d["name"], tuple(d.get("extra", ()))) for d in PACKAGES[root].get("dependencies", [])]
    for group in groups:
        wanted += [(d["name"], tuple(d.get("extra", ()))) for d in PACKAGES[root]["dev-dependencies"][group]]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while wanted:
        name, extras = wanted.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = PACKAGES[name]
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        wanted += [(d["name"], tuple(d.get("extra", ()))) for d in deps]
    return {name for name, _ in seen}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def module_name(path: Path) -> str:
    src = next(p for p in path.parents if p.name == "src")
    return ".".join(path.relative_to(src).with_suffix("").parts)


SOURCES = sorted(p for member in workspace_members() for p in (ROOT / member / "src").rglob("*.py"))


@pytest.mark.parametrize("member", workspace_members(), ids=str)
def test_no_member_ships_a_test_only_library(member: Path) -> None:
    meta = project(member)
    runtime = {requirement_name(r) for r in meta.get("dependencies", [])}
    assert not runtime & TEST_ONLY, f"{member} ships {sorted(runtime & TEST_ONLY)}"
    assert not runtime & SINK_ONLY, f"{member} ships the mail sink at run time"


def test_the_mail_sink_is_the_notifiers_devsink_extra() -> None:
    meta = project(Path("services/notifier"))
    assert {requirement_name(r) for r in meta["optional-dependencies"]["devsink"]} == {"aiosmtpd", "aiohttp"}
    assert meta["scripts"]["offerflow-mailsink"].startswith(SINK_MODULE + ":")


def test_the_image_installs_neither_test_libraries_nor_the_sink() -> None:
    image = installed_without_dev()
    assert not image & (TEST_ONLY | SINK_ONLY), sorted(image & (TEST_ONLY | SINK_ONLY))
    assert {"boto3", "aiosmtplib", "faust-streaming"} <= image  # what the services do need is still there


def test_the_dev_setup_and_the_sink_image_have_the_sink() -> None:
    assert installed_without_dev(groups=("devsink",)) >= SINK_ONLY
    assert installed_without_dev(groups=("dev",)) >= SINK_ONLY | {"pytest", "hypothesis"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_imports_a_test_library_and_only_the_sink_imports_its_own(path: Path) -> None:
    top = {name.split(".")[0] for name in imports(path)}
    assert not top & {"pytest", "moto", "hypothesis", "schemathesis", "playwright"}, path
    if module_name(path) != SINK_MODULE:
        assert "aiosmtpd" not in top, f"{path} needs the devsink extra"
        assert not any(n == SINK_MODULE or n.startswith(SINK_MODULE + ".") for n in imports(path)), path


def test_the_notifier_process_loads_without_the_sink() -> None:
    """Its entry module imported for real: neither the sink nor aiosmtpd comes along."""
    entry = project(Path("services/notifier"))["scripts"]["offerflow-notifier"].split(":")[0]
    code = (
        f"import sys, {entry}\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'aiosmtpd' or m == {SINK_MODULE!r})\n"
        "sys.exit(', '.join(loaded) or None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
