"""The stored samples: one JSON message per ``(event_type, schema_version)`` as it was first put on a topic.

They ship with the contract so that any consumer (another team, an ops tool) can test that it still reads every
message ever written. A sample is never edited once stored; a new schema version adds a new file beside the old one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SAMPLES_DIR = Path(str(resources.files("offerflow_contract") / "samples"))


@dataclass(frozen=True)
class Sample:
    name: str  # "<event_type>.v<schema_version>"
    raw: bytes


def stored_samples() -> Iterator[Sample]:
    for path in sorted(SAMPLES_DIR.glob("*.json")):
        yield Sample(name=path.stem, raw=path.read_bytes())
