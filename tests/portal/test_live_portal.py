"""The live pages in a browser: the all-offers tab follows the publisher's offer stream and updates a row where it
is, and the Status tab shows the measured ETA, the time left and an overdue step, labeled as such."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from playwright.sync_api import expect
from stack import Stack

from offerflow_contract import codec, topics
from offerflow_contract.envelope import Event, wrap
from offerflow_contract.events import StagingStarted
from tests.api.staging_seed import staging_paused
from tests.e2e.client import Api, offer_doc, unique
from tests.images.builder import build_linux_vhd
from tests.portal.browser import Portal, shot

pytestmark = pytest.mark.e2e

MEASURED_RUNS = 5  # eta.MIN_SAMPLES: this many finished steps replace the static ETA with a measured one


def test_the_all_offers_tab_shows_a_new_state_without_reload(portal: Portal, api: Api, tmp_path: Path) -> None:
    offer = unique("live-list")
    assert api.put(offer, offer_doc(build_linux_vhd(tmp_path / "os.vhd"))).status_code == 201
    page = portal.open("/offers")
    expect(page.get_by_text("Live: this list updates by itself")).to_be_visible()
    row = page.locator(f"tr[data-offer='{offer}']")
    expect(row.locator("td.col-status")).to_have_text("Never published")
    # Marks on the document and on the row: a reload or a rebuilt table would lose them.
    page.evaluate("id => { window.sameDocument = true; "
                  "document.querySelector(`tr[data-offer='${id}']`).sameRow = true; }", offer)

    assert api.publish(offer).status_code == 202
    expect(row.locator("td.col-status")).to_have_text("In progress", timeout=30_000)
    expect(row.locator("td.col-step")).to_have_text(
        re.compile("Certification|Provisioning|Staging deployment|Packaging"), timeout=90_000)
    assert page.evaluate("id => window.sameDocument === true && "
                         "document.querySelector(`tr[data-offer='${id}']`).sameRow === true", offer)
    shot(page, "offers-live")


def test_the_time_left_says_where_the_estimate_comes_from(portal: Portal) -> None:
    page = portal.open("/offers")
    texts = page.evaluate("""async () => {
      const { etaLeft } = await import("./js/views/status.js");
      const ago = (s) => new Date(Date.now() - s * 1000).toISOString();
      return [etaLeft(ago(120), 300, 12, false), etaLeft(ago(60), 900, null, false),
              etaLeft(ago(400), 300, 12, false), etaLeft(ago(1500), 600, 7, true),
              etaLeft(ago(9000), 1800, null, true)];
    }""")
    assert texts == [
        "about 3 min left (measured from the last 12 runs)",
        "about 14 min left (static estimate)",
        "taking longer than expected: running 7 min, expected within 5 min (measured from the last 12 runs)",
        "overdue by 15 min: running 25 min, expected within 10 min (measured from the last 7 runs)",
        "overdue by 2 h: running 2 h 30 min, expected within 30 min (static estimate)",
    ]


@pytest.fixture(scope="module")
def runs_at_staging(stack: Stack, e2e_token: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Offers whose runs finished validation, certification and provisioning for real (enough of them for those
    steps' ETAs to be measured) and wait at staging, whose worker is paused: the tests seed its events."""
    api = Api(stack.api_url, e2e_token)
    with staging_paused(stack):
        offers = [unique("live-eta") for _ in range(MEASURED_RUNS)]
        for offer in offers:
            image = build_linux_vhd(tmp_path_factory.mktemp("live-eta") / "os.vhd")
            assert api.put(offer, offer_doc(image)).status_code == 201
            assert api.publish(offer, "eta@e2e.example").status_code == 202
        for offer in offers:
            api.wait_status(offer, lambda d: d["status"] == "failed" or any(
                s["id"] == "displayprovision" and s["status"] == "complete" for s in d["steps"]), timeout=300)
        yield offers


def test_the_status_tab_shows_the_measured_eta_and_an_overdue_step(
        portal: Portal, api: Api, stack: Stack, runs_at_staging: list[str]) -> None:
    offer = runs_at_staging[0]
    doc = api.status(offer)
    assert doc["status"] == "running", doc
    # Staging started two and a half hours ago: far past twice its ETA, within its hard limit (3 h).
    started = datetime.now(UTC) - timedelta(hours=2, minutes=30)
    produce(stack, api.publisher, offer, doc["runId"], StagingStarted(message="Booting one replica per plan"),
            started)

    page = portal.open(f"/offers/{offer}/status")
    certification = page.locator("li.step[data-step='displaycertify']")
    # The API re-reads the measured durations at most every 30 s: the stream brings them when it does.
    expect(certification.locator("dt").first).to_have_text(
        re.compile(r"^Estimated time \(measured from the last \d+ runs\)$"), timeout=60_000)
    expect(certification.locator("dd.eta-frame")).to_have_text(re.compile(r"^~.+ \(90% <.+\)$"))

    staging = page.locator("li.step[data-step='displaystaging']")
    expect(staging).to_have_attribute("data-status", "inProgress", timeout=30_000)
    expect(staging.locator(".badge-overdue")).to_have_text("Overdue")
    expect(staging.locator("dd.eta-left")).to_have_text(
        re.compile(r"^overdue by \d+ (min|h|h \d+ min): running 2 h 3\d min, expected within .+ "
                   r"\((static estimate|measured from the last \d+ runs)\)$"))
    shot(page, "status-overdue")


def produce(stack: Stack, publisher: str, offer: str, run_id: str, event: Event, at: datetime) -> None:
    """Puts one staging event of the run on the staging topic, as the staging service writes it, dated ``at``."""
    env = wrap(event, offer_id=offer, publisher_id=publisher, run_id=run_id, producer="staging", occurred_at=at)

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topics.STAGING.name, codec.encode(env), key=codec.key_of(env),
                                         headers=list(codec.headers_for(env)))
        finally:
            await producer.stop()

    # In a thread of its own: this test's thread already runs Playwright's event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, send()).result()
