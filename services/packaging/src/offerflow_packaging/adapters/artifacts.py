"""Where packaging reads artifacts from: the shared readers (the same rules validation applies)."""

from offerflow_shared.artifacts import (
    DEFAULT_MAX_BYTES,
    ArtifactError,
    ArtifactSource,
    FileSource,
    HttpSource,
    MemoryArtifactSource,
    SchemeRouter,
    reader,
    redact,
)

__all__ = ["DEFAULT_MAX_BYTES", "ArtifactError", "ArtifactSource", "FileSource", "HttpSource",
           "MemoryArtifactSource", "SchemeRouter", "reader", "redact"]
