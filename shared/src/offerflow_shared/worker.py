"""Faust glue shared by the stage services: app factory, a Kafka sink and the thin agent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_kafka
from faust.types import ProducerT

from offerflow_contract.codec import Headers
from offerflow_contract.topics import PARTITIONS, TOPIC_CONFIGS
from offerflow_shared import logs, ops
from offerflow_shared.runtime import Dispatcher, Incoming


class IdempotentProducer(faust_kafka.Producer):  # type: ignore[misc]  # faust ships no types
    """Faust's producer with idempotence on (Faust turns it on only inside transactions): a send retried after a
    lost acknowledgement, e.g. while a partition's leadership moves to another broker, is not written twice."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class App(faust.App):  # type: ignore[misc]  # faust ships no types
    def _new_producer(self) -> ProducerT:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)


def create_app(service: str, *, bootstrap: str, web_port: int, replication_factor: int = 1) -> faust.App:
    return App(
        f"offerflow-{service}",
        broker=f"kafka://{bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        web_host="127.0.0.1",
        web_port=web_port,
        web_in_thread=False,
        topic_partitions=PARTITIONS,
        topic_replication_factor=replication_factor,
        autodiscover=False,
        store="memory://",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # Certification and provisioning hold a message for minutes; the poll loop keeps running
        # meanwhile, but the group must not evict a worker that is busy with one long event.
        broker_max_poll_interval=1800.0,
        # A worker killed with -9 holds its partitions until its session expires: keep that short so a
        # restarted instance (or its peer) takes them over within seconds, not a minute. Heartbeats run on
        # their own task, so long handlers (which run their I/O in threads) do not starve them.
        broker_session_timeout=15.0,
        broker_heartbeat_interval=1.5,
    )


class FaustSink:
    """The app's producer (acks=all): ``send`` waits for the ack, ``enqueue`` returns it to await later."""

    def __init__(self, app: faust.App) -> None:
        self._app = app

    async def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        await self._app.producer.send_and_wait(topic, key, value, None, None, headers)

    async def enqueue(self, topic: str, key: bytes | None, value: bytes | None,
                      headers: Headers) -> Awaitable[object]:
        ack: Awaitable[object] = await self._app.producer.send(topic, key, value, None, None, headers)
        return ack


def attach(
    app: faust.App,
    topic_names: Sequence[str],
    dispatcher: Dispatcher,
    *,
    concurrency: int = 1,
    on_start: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Subscribe ``dispatcher`` to ``topic_names`` (decode → handler → emit happens in the dispatcher)."""
    # With the contract's settings, so a worker that starts before the topic job never creates a topic that
    # forgets its history after a week.
    topics = app.topic(*topic_names, key_type=bytes, value_type=bytes, config=dict(TOPIC_CONFIGS))
    started = asyncio.Lock()
    state = {"done": on_start is None}

    async def ensure_started() -> None:
        async with started:
            if not state["done"] and on_start is not None:
                await on_start()
                state["done"] = True

    async def consume(stream: faust.StreamT[Any]) -> None:
        await ensure_started()
        async for event in stream.events():
            m = event.message
            await dispatcher.process(
                Incoming(m.topic, m.partition, m.offset, m.key, m.value, list(m.headers or []))
            )

    app.agent(topics, name=f"{dispatcher.service}-agent", concurrency=concurrency)(consume)


def run(app: faust.App, loglevel: str = "info", *, checks: Mapping[str, ops.Check] | None = None) -> None:
    """Run the worker until SIGTERM/SIGINT, logging JSON lines named after the app (``offerflow-<service>``).

    Adds ``/healthz``, ``/readyz`` (broker, plus ``checks``) and ``/metrics`` to the app's web server.
    """
    ops.install(app, checks)
    service = str(app.conf.id).removeprefix("offerflow-")
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, logging_config=logs.dict_config(service, loglevel))
    worker.execute_from_commandline()
