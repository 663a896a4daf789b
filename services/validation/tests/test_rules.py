from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from offerflow_validation import rules

LOGO = rules.Artifact(field="/offer/x", url="file:///x.png", size=(40, 40), what="logo", label="smallLogo")
SHOT = rules.Artifact(field="/offer/s/0", url="file:///s.png", size=(533, 324), what="screenshot", label="screenshot 1")


def image(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buf, format=fmt)
    return buf.getvalue()


def test_exact_size_png_and_jpeg_pass() -> None:
    assert rules.pixel_problems(LOGO, image((40, 40))) == []
    assert rules.pixel_problems(LOGO, image((40, 40), "JPEG")) == []


def test_wrong_size_is_named_with_both_sizes() -> None:
    [r] = rules.pixel_problems(LOGO, image((41, 40)))
    assert (r.code, r.field) == ("logo_wrong_size", "/offer/x") and "41x40" in r.message and "40x40" in r.message
    [r] = rules.pixel_problems(SHOT, image((533, 325)))
    assert r.code == "screenshot_wrong_size"


def test_not_an_image_or_truncated() -> None:
    assert [r.code for r in rules.pixel_problems(LOGO, b"GIF89a nope")] == ["artifact_unreadable"]
    assert [r.code for r in rules.pixel_problems(LOGO, image((40, 40))[:60])] == ["artifact_unreadable"]


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size but carries no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"")


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_a_huge_image_is_refused_from_its_header_without_being_decoded() -> None:
    assert [r.code for r in rules.pixel_problems(LOGO, png_header(4000, 4000))] == ["logo_wrong_size"]
    assert [r.code for r in rules.pixel_problems(LOGO, png_header(40000, 40000))] == ["artifact_unreadable"]


def test_a_right_size_header_without_pixels_is_unreadable() -> None:
    assert [r.code for r in rules.pixel_problems(LOGO, png_header(40, 40))] == ["artifact_unreadable"]


def test_summary_lists_the_first_problems() -> None:
    reasons = rules.pixel_problems(LOGO, image((1, 1))) * 7
    text = rules.summary(reasons)
    assert text.startswith("7 problems to fix before publishing: The smallLogo is 1x1") and text.endswith("…")


def test_artifacts_lists_logos_and_screenshots_with_pointers() -> None:
    definition = {"offer": {
        "microsoft-azure-marketplace.smallLogo": "https://cdn.example/s.png",
        "microsoft-azure-marketplace.heroLogo": "",
        "microsoft-azure-marketplace.wideLogo": "not a url",
        "microsoft-azure-marketplace.screenshots": [{"uri": "file:///a.png"}, "https://cdn.example/b.png"],
    }}
    found = rules.artifacts(definition)
    assert [(a.field, a.size) for a in found] == [
        ("/offer/microsoft-azure-marketplace.smallLogo", (40, 40)),
        ("/offer/microsoft-azure-marketplace.screenshots/0", (533, 324)),
        ("/offer/microsoft-azure-marketplace.screenshots/1", (533, 324)),
    ]
