"""compose.yaml's images and its mail sink: every image pinned to a release, Mailpit in place of the project's own
sink with the notifier pointed at it."""

from __future__ import annotations

import re

from .manifests import environment
from .test_compose import ENV_EXAMPLE, OFFERFLOW, SERVICES
from .workspace import workspace_version

MAILPIT = SERVICES["mailpit"]


def test_every_image_is_pinned_by_tag() -> None:
    """A named release for every image, never `latest` or a bare major; a digest, where one is added at release
    time, is a whole sha256 (no placeholder can pass)."""
    for name, svc in SERVICES.items():
        ref = str(svc["image"])
        image, _, digest = ref.partition("@")
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?", tag), f"{name}: {ref} is not pinned to a release"
        assert not digest or re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{name}: {ref}"
    assert {svc["image"] for svc in OFFERFLOW.values()} == {f"offerflow:{workspace_version()}"}


def test_the_notifier_sends_to_mailpit() -> None:
    """Mailpit is the sink: the notifier's SMTP host and port are Mailpit's SMTP listener (1025), its UI (8025) is
    published on the loopback only and asks for the admin token, and the notifier waits for it."""
    notifier = environment(SERVICES["notifier"])
    assert (notifier["OFFERFLOW_NOTIFIER_SMTP_HOST"], notifier["OFFERFLOW_NOTIFIER_SMTP_PORT"]) == ("mailpit", "1025")
    assert SERVICES["notifier"]["depends_on"]["mailpit"] == {"condition": "service_healthy"}
    assert MAILPIT["image"].startswith("axllent/mailpit:v")
    assert MAILPIT["ports"] == ["127.0.0.1:8025:8025"]
    env = environment(MAILPIT)
    assert env["MP_UI_AUTH"] == "admin:" + ENV_EXAMPLE["OFFERFLOW_STATUS_API_ADMIN_TOKEN"]
    assert MAILPIT["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]
    assert not {"mailsink"} & set(SERVICES), "the project's own sink is the local stack's only"
