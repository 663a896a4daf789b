"""``make up``'s demo gives its offer the way a publisher would: the image in the publisher's bucket, a presigned
HTTPS URL (7 days) that validation accepts and the shared disk source reads through the dev CA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from offerflow_shared.egress_policy import EgressPolicy
from offerflow_shared.offer import DiskRef
from offerflow_shared.sources import UrlDiskSource
from offerflow_validation import expiry
from tests import objectstores

pytestmark = pytest.mark.integration


def test_the_demo_image_url_is_a_presigned_https_url_of_the_publisher_bucket(tmp_path: Path) -> None:
    from demo import image_url
    from stack import Stack

    config = objectstores.config_file()
    stores = objectstores.load(config)
    stack = Stack(run_dir=tmp_path, objectstores_file=config)
    image = tmp_path / "demo-os.vhd"
    image.write_bytes(bytes(range(256)) * 1024)
    url = image_url(stack, image, "demo/demo/demo-os.vhd")
    assert url.startswith(f"{stores.publisher.endpoint_url}/{stores.publisher.bucket}/demo/demo/demo-os.vhd?")
    now = datetime.now(UTC)
    found = expiry.signature_expiry(url)
    assert found is not None and found.at is not None
    assert timedelta(days=7) - timedelta(minutes=5) < found.at - now <= timedelta(days=7)
    ref = DiskRef("p", "1.0.0", "os", url, "/x")
    assert expiry.validity_problems([ref], now=now, min_validity=timedelta(hours=24)) == []
    # The stack names its publisher endpoint as the one egress exception the services need for it.
    endpoint = httpx.URL(stores.publisher.endpoint_url)
    policy = EgressPolicy(allowed=frozenset({(endpoint.host, endpoint.port or 443)}))
    source = UrlDiskSource(max_bytes=1 << 20, policy=policy, ca_file=Path(stores.ca_file))
    with source.open(url) as f:
        assert f.read() == image.read_bytes()
