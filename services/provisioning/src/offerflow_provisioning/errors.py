"""Failures that retrying cannot fix: each carries the reason code shown to the publisher."""

from __future__ import annotations


class PermanentCopyError(Exception):
    code = "replication-failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DiskChanged(PermanentCopyError):
    code = "disk-changed"


class CopyAborted(Exception):
    """Another copy of the same run failed for good, so this one stopped early (not a failure of its own)."""
