"""The one error the image builders raise.

It lives apart from every step (tree, filesystem, container, variants) so callers catch a single type
whichever step failed, and no step has to import another just to raise it.
"""

from __future__ import annotations


class BuilderError(RuntimeError):
    """The image could not be built (missing e2fsprogs, mkfs failure, bad arguments)."""
