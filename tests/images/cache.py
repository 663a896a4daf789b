"""What the cached test-image builders (bootable.py, windows.py) share: where the cache is, the key of a recipe,
the lock one build holds, and the command line that builds (or reuses) variants into a folder."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType

from tests.images.errors import BuilderError


def cache_root(cache_dir: Path | None = None) -> Path:
    if cache_dir is not None:
        return cache_dir
    env = os.environ.get("OFFERFLOW_IMAGE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "offerflow" / "images"


def recipe_key(modules: Iterable[ModuleType], salt: bytes = b"") -> str:
    """A hash of the modules that make the images: a changed recipe gives new file names, hence a rebuild."""
    h = hashlib.sha256(salt)
    for module in modules:
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()[:12]


@contextlib.contextmanager
def build_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """One build at a time per cache (across processes); ``on_wait`` is told when another one holds it."""
    with path.open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def variants_main(argv: list[str] | None, doc: str | None, variants: Iterable[str],
                  build: Callable[..., Path]) -> int:
    """``OUT_DIR [--variant V]...``: builds (or reuses) each variant in OUT_DIR and prints its path."""
    choices = list(variants)
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("out_dir", type=Path, help="directory to build (or reuse) the images in")
    parser.add_argument("--variant", action="append", choices=choices, help="repeatable; default: every variant")
    args = parser.parse_args(argv)
    try:
        for variant in args.variant or choices:
            print(build(variant, cache_dir=args.out_dir.resolve()))
    except BuilderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
