"""The boots in progress of one worker, one asyncio task per offer, so that the end of a run stops its boot.

A boot runs in its own task, awaited by the handler of the run's input. The publishing topic is read by a second
agent of the same worker, so a new Publish, the step's time limit or a cancel reaches the worker while a boot runs
and cancels that task: the engine kills QEMU, and the handler learns that its run ended (:meth:`Boots.ended`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("offerflow.staging")


@dataclass
class _Boot:
    run_id: str
    task: asyncio.Task[None]
    why: str | None = None  # set when stopped because the run ended


@dataclass
class Boots:
    _by_offer: dict[str, _Boot] = field(default_factory=dict)

    def start(self, offer_id: str, run_id: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        earlier = self._by_offer.get(offer_id)
        if earlier is not None and earlier.run_id != run_id:
            # Inputs of one offer come in order on one partition: an earlier run still booting has been superseded.
            self.stop(offer_id, earlier.run_id, f"run {run_id} of the offer started")
        task = asyncio.get_running_loop().create_task(work, name=f"staging-boot-{offer_id}-{run_id}")
        self._by_offer[offer_id] = _Boot(run_id, task)
        return task

    def running(self, offer_id: str) -> str | None:
        """The run whose boot is in progress for the offer, if any."""
        boot = self._by_offer.get(offer_id)
        return boot.run_id if boot is not None and not boot.task.done() else None

    def stop(self, offer_id: str, run_id: str | None, why: str) -> bool:
        """Cancel the offer's boot if it belongs to ``run_id`` (any run when None); True when one was stopped."""
        boot = self._by_offer.get(offer_id)
        if boot is None or boot.task.done() or (run_id is not None and boot.run_id != run_id):
            return False
        boot.why = why
        boot.task.cancel()
        log.info("stopping the boot of run %s of offer %s: %s", boot.run_id, offer_id, why)
        return True

    def ended(self, offer_id: str, task: asyncio.Task[None]) -> str | None:
        """Why the boot in ``task`` was stopped from outside (its run ended), or None."""
        boot = self._by_offer.get(offer_id)
        return boot.why if boot is not None and boot.task is task else None

    def forget(self, offer_id: str, task: asyncio.Task[None]) -> None:
        boot = self._by_offer.get(offer_id)
        if boot is not None and boot.task is task:
            del self._by_offer[offer_id]
