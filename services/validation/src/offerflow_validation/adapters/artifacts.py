"""Where validation reads artifacts from: the shared readers (the same rules packaging applies)."""

from offerflow_shared.artifacts import (
    DEFAULT_MAX_BYTES,
    ArtifactError,
    SchemeRouter,
    reader,
    redact,
)
from offerflow_shared.artifacts import ArtifactSource as ArtifactFetcher
from offerflow_shared.artifacts import FileSource as FileFetcher
from offerflow_shared.artifacts import HttpSource as HttpFetcher
from offerflow_shared.artifacts import MemoryArtifactSource as MemoryFetcher

__all__ = ["DEFAULT_MAX_BYTES", "ArtifactError", "ArtifactFetcher", "FileFetcher", "HttpFetcher", "MemoryFetcher",
           "SchemeRouter", "reader", "redact"]
