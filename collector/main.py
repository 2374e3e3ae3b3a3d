"""The collector's pipeline: consume, validate, batch, write, then acknowledge."""

from __future__ import annotations

import asyncio
import base64
import collections
import logging
import time

from prometheus_client import start_http_server

from collector.config import CollectorConfig
from collector.consumer import BrokerSession, Inbound
from collector.metrics import CollectorMetrics
from collector.record import Record
from collector.sinks import Sink, SinkError, SinkRejected
from collector.sinks.factory import make_sink
from facmon.backoff import Backoff
from facmon.contract import (
    ContractError,
    DataEnvelope,
    DeadLetterEnvelope,
    Topic,
    TopicKind,
    parse_envelope,
    shared,
    subscription,
)

log = logging.getLogger(__name__)


class Collector:
    """Moves data envelopes from the broker into the sink, losing none.

    A message is acknowledged only after the batch holding it is durable in the sink, so a
    crash at any point leaves the broker holding whatever was not stored. What cannot be
    stored (malformed, refused by the store) goes to the dead-letter topic with the reason.
    """

    def __init__(self, config: CollectorConfig, sink: Sink | None = None) -> None:
        """Prepare the session and sink; nothing connects until :meth:`run`."""
        self.config = config
        self.sink = sink or make_sink(config.sink)
        self.stored = 0
        self.dead_letters = 0
        self.retries = 0
        self.metrics = CollectorMetrics()
        # paho's thread appends here and wakes the loop only when it is not already woken:
        # one wake-up per message cost more than everything else the collector does.
        self._inbox: collections.deque[Inbound] = collections.deque()
        self._arrived = asyncio.Event()
        self._wake_pending = False
        self._deadletter_topic = str(Topic(TopicKind.DEADLETTER, prefix=config.prefix))
        topic_filter = subscription(TopicKind.DATA, config.prefix)
        if config.share_group:
            topic_filter = shared(config.share_group, topic_filter)
        self.session = BrokerSession(
            config.broker,
            config.broker.client_id or f"facmon-{config.id}",
            [topic_filter],
            self._deliver_threadsafe,
            config.protocol,
            config.session_expiry_s,
            config.max_unacked,
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    def _deliver_threadsafe(self, message: Inbound) -> None:
        self._inbox.append(message)
        if not self._wake_pending and self._loop is not None:
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._wake_pending = False  # set before the inbox is read: a later append wakes again
        self._arrived.set()

    async def _more(self) -> None:
        while not self._inbox:
            self._arrived.clear()
            await self._arrived.wait()

    async def run(self) -> None:
        """Consume until cancelled."""
        self._loop = asyncio.get_running_loop()
        if self.config.metrics_port is not None:
            start_http_server(self.config.metrics_port, registry=self.metrics.registry)
        self.session.start()
        log.info("collector %s consuming from %s", self.config.id, self.config.broker.url)
        try:
            while True:
                batch = await self._next_batch()
                await self._store(batch)
        finally:
            self.session.stop()
            await self.sink.close()
            log.info(
                "collector %s stopped: %d reading(s) stored, %d dead letter(s), %d retries",
                self.config.id,
                self.stored,
                self.dead_letters,
                self.retries,
            )

    async def _next_batch(self) -> list[Inbound]:
        await self._more()
        limit = self.config.batch_max_lines
        batch: list[Inbound] = []
        deadline = time.monotonic() + self.config.batch_max_delay_s
        while True:
            while self._inbox and len(batch) < limit:
                batch.append(self._inbox.popleft())
            remaining = deadline - time.monotonic()
            if len(batch) >= limit or remaining <= 0:
                return batch
            try:
                async with asyncio.timeout(remaining):  # not wait_for: on 3.11 it can lose a cancel
                    await self._more()
            except TimeoutError:
                return batch

    async def _store(self, batch: list[Inbound]) -> None:
        self.metrics.received.inc(len(batch))
        self.metrics.unacked.set(len(batch) + len(self._inbox))
        records: list[tuple[Record, Inbound]] = []
        for message in batch:
            try:
                records.append((self._record(message), message))
            except ContractError as exc:
                self._dead_letter(message.topic, message.payload, exc.reason)
                self.session.ack(message)
        await self._write(records)
        for message in batch:
            self.session.ack(message)
        self.metrics.unacked.set(len(self._inbox))
        if records:
            newest = max(record.envelope.ts for record, _ in records)
            self.metrics.lag_seconds.set(max(0.0, time.time() - newest / 1000))

    def _record(self, message: Inbound) -> Record:
        topic = Topic.parse(message.topic, self.config.prefix)
        if topic.kind is not TopicKind.DATA:
            raise ContractError(f"a collector takes data topics, not {topic.kind}")
        envelope = parse_envelope(DataEnvelope, message.payload)
        return Record(str(topic.site), str(topic.gateway), str(topic.device), envelope)

    async def _write(self, records: list[tuple[Record, Inbound]]) -> None:
        """Write with retries until stored; split a refused batch to isolate the bad records."""
        if not records:
            return
        backoff = Backoff(0.2, 10)
        while True:
            started = time.monotonic()
            try:
                await self.sink.write([r for r, _ in records])
            except SinkError as exc:
                self.retries += 1
                self.metrics.retries.inc()
                if self.retries == 1 or self.retries % 50 == 0:
                    log.warning("store unavailable (%s); retrying, nothing is acknowledged", exc)
                await asyncio.sleep(backoff.next())
                continue
            except SinkRejected as exc:
                if len(records) == 1:
                    _, message = records[0]
                    self._dead_letter(
                        message.topic, message.payload, f"refused by the store: {exc.reason}"
                    )
                    return
                middle = len(records) // 2
                await self._write(records[:middle])
                await self._write(records[middle:])
                return
            self.stored += len(records)
            self.metrics.stored.inc(len(records))
            self.metrics.batch_size.observe(len(records))
            self.metrics.write_seconds.observe(time.monotonic() - started)
            return

    def _dead_letter(self, topic: str, payload: bytes, reason: str) -> None:
        self.dead_letters += 1
        self.metrics.dead_letters.inc()
        log.warning("dead letter from %s: %s", topic[:200], reason)
        envelope = DeadLetterEnvelope(
            ts=int(time.time() * 1000),
            source=self.config.id,
            topic=topic[:65_535],
            reason=reason[:1024],
            payload_b64=base64.b64encode(payload[:65_536]).decode(),
            payload_size=len(payload),
        )
        self.session.publish(self._deadletter_topic, envelope.to_json())
