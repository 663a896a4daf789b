"""Loading the deploy files the way their tools would: compose interpolation, env lists, k8s documents."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from offerflow_shared.settings import CommonSettings

from .workspace import DEPLOY, SETTINGS

COMPOSE_DIR = DEPLOY / "compose"
K8S_DIR = DEPLOY / "k8s"
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def variables(text: str) -> Iterator[tuple[str, str | None, str]]:
    """Every ``${NAME…}`` reference: (name, operator, argument)."""
    for m in _VAR.finditer(text):
        yield m["name"], m["op"], m["arg"] or ""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation for the forms the file uses; a required variable missing is an error."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m["name"], m["op"], m["arg"] or ""
        if name in env and (env[name] or op not in (":-", ":?")):
            return env[name]
        if op in ("-", ":-"):
            return arg
        raise KeyError(f"{name} is required ({arg or 'no default'}) and not set")

    return _VAR.sub(one, text)


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(interpolate(text, env))
    return data


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        docs += [(path, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def settings_from(
    script: str, env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch
) -> BaseSettings | None:
    """The process's settings built from exactly ``env``: pydantic validates every value as at start."""
    import os

    for name in [n for n in os.environ if n.startswith("OFFERFLOW_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cls = SETTINGS[script]
    try:
        if cls is None:  # the mail sink reads os.environ itself: its ports must at least be numbers
            for name in (n for n in env if n.endswith("_PORT")):
                assert 0 < int(env[name]) < 65536, name
            CommonSettings()
            return None
        return cls()
    except ValidationError as exc:  # a clearer failure than the bare traceback
        pytest.fail(f"{script}: the deploy env does not validate: {exc}")


def with_files(env: Mapping[str, str], files: Mapping[str, str], where: Path) -> dict[str, str]:
    """``env`` with each value naming a mounted file (container path -> content) pointed at a copy under
    ``where``, so a setting that reads its file at start (the region map) validates what the container gets."""
    copies: dict[str, str] = {}
    for i, (target, content) in enumerate(sorted(files.items())):
        copy = where / f"{i}-{Path(target).name}"
        copy.write_text(content)
        copies[target] = str(copy)
    return {name: copies.get(value, value) for name, value in env.items()}
