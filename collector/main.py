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
from facmon.backoff import Backoff
from facmon.contract import (
    RESERVED_NAMES,
    RESERVED_PREFIX,
    AlertEnvelope,
    ContractError,
    DataEnvelope,
    DeadLetterEnvelope,
    EventEnvelope,
    MetersEnvelope,
    StateEnvelope,
    Topic,
    TopicKind,
    UsageEnvelope,
    everything,
    parse_envelope,
    shared,
)
from storage.factory import make_sink
from storage.lineprotocol import BAD_FIELD, SEQ_FIELD
from storage.records import (
    NOWHERE,
    AlertRecord,
    EventRecord,
    HealthRecord,
    Record,
    StateRecord,
    Stored,
    UsageRecord,
    Where,
)
from storage.sink import Sink, SinkError, SinkRejected

log = logging.getLogger(__name__)

_Route = tuple[TopicKind, str, str, str]
_ROUTES_LIMIT = 100_000
_STORED_KINDS = {
    TopicKind.DATA,
    TopicKind.EVENT,
    TopicKind.STATE,
    TopicKind.ALERTS,
    TopicKind.USAGE,
}
_PLACES_LIMIT = 1_000_000
_YIELD_EVERY = 250


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
        self.received = 0
        self.stored = 0
        self.dead_letters = 0
        self.retries = 0
        self.lag_s = 0.0
        self._sink_lock = asyncio.Lock()
        self.metrics = CollectorMetrics()
        self._inbox: collections.deque[Inbound] = collections.deque()
        self._arrived = asyncio.Event()
        self._deadletter_topic = str(Topic(TopicKind.DEADLETTER, prefix=config.prefix))
        # Everything under the prefix: what is not ours to store is skipped, and what is not
        # a contract topic at all (unknown, another version) is reported as a dead letter.
        topic_filter = everything(config.prefix)
        filters = [topic_filter]
        if config.share_group:
            # A shared subscription gets no retained messages: every collector of the group
            # reads the metering trees on its own.
            meters = f"{config.prefix}/v1/{TopicKind.METERS.value}/+"
            filters = [shared(config.share_group, topic_filter), meters]
        self.session = BrokerSession(
            config.broker,
            config.broker.client_id or f"facmon-{config.id}",
            filters,
            self._deliver,
            config.protocol,
            config.session_expiry_s,
            config.max_unacked,
        )
        self._routes: dict[str, _Route] = {}
        self._places: dict[str, Where] = {}
        """Device → where its newest state message says it is."""
        self._meter_parents: dict[str, dict[str, str]] = {}
        """Site → each sub-meter device and the meter upstream of it (the API's newest)."""
        self.metrics.unacked.set_function(lambda: self.session.unacked)

    def _deliver(self, message: Inbound) -> None:
        self._inbox.append(message)
        self._arrived.set()

    async def _more(self) -> None:
        while not self._inbox:
            self._arrived.clear()
            await self._arrived.wait()

    async def run(self) -> None:
        """Consume until cancelled."""
        if self.config.metrics_port is not None:
            start_http_server(self.config.metrics_port, registry=self.metrics.registry)
        session = asyncio.create_task(self.session.run(), name="mqtt-session")
        health = asyncio.create_task(self._report_health(), name="collector-health")
        log.info("collector %s consuming from %s", self.config.id, self.config.broker.url)
        # One batch is being written while the next is received, validated and encoded: the
        # store works on another core meanwhile. Batches are written and acknowledged in order.
        writing: asyncio.Task[None] | None = None
        try:
            while True:
                batch = await self._next_batch()
                records, newest = await self._prepare(batch)
                encoded = self.sink.encode([r for r, _ in records]) if records else None
                if writing is not None:
                    await writing
                writing = asyncio.create_task(self._commit(batch, records, newest, encoded))
                await asyncio.sleep(0)  # let the write start before the next batch's work
        finally:
            self.session.stop()
            for task in (writing, session, health):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            await self.sink.close()
            log.info(
                "collector %s stopped: %d record(s) stored, %d dead letter(s), %d retries",
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

    async def _prepare(self, batch: list[Inbound]) -> tuple[list[tuple[Stored, Inbound]], int]:
        """Validate ``batch``: what to store, and the newest reading's time; the rest is dead."""
        self.received += len(batch)
        self.metrics.received.inc(len(batch))
        records: list[tuple[Stored, Inbound]] = []
        newest = 0
        for index, message in enumerate(batch):
            if index % _YIELD_EVERY == 0:
                # Let the previous batch's write send its body and take its answer now,
                # rather than after all of this batch's work.
                await asyncio.sleep(0)
            try:
                record = self._record(message)
            except ContractError as exc:
                self._dead_letter(message.topic, message.payload, exc.reason)
                continue
            if record is not None:
                records.append((record, message))
                if isinstance(record, Record):
                    newest = max(newest, record.envelope.ts)
        return records, newest

    async def _commit(
        self,
        batch: list[Inbound],
        records: list[tuple[Stored, Inbound]],
        newest: int,
        encoded: bytes | None,
    ) -> None:
        """Write the batch's records, then acknowledge every message of the batch."""
        await self._write(records, encoded)
        self.session.ack(batch)
        if newest:
            self.lag_s = max(0.0, time.time() - newest / 1000)
            self.metrics.lag_seconds.set(self.lag_s)

    def _record(self, message: Inbound) -> Stored | None:
        """Return what ``message`` stores, or None for a contract topic the collector skips.

        Raises:
            ContractError: not a contract topic, or not a valid envelope for its topic.
        """
        route = self._routes.get(message.topic)
        if route is None:
            route = self._route(message.topic)
        kind, site, gateway, device = route
        if kind is TopicKind.DATA:
            data = parse_envelope(DataEnvelope, message.payload)
            if data.measurement.startswith(RESERVED_PREFIX):
                reserved = f"{RESERVED_PREFIX}* is reserved"
                raise ContractError(f"measurement {data.measurement!r}: {reserved}")
            if SEQ_FIELD in data.values or BAD_FIELD in data.values:  # RESERVED_NAMES, fast
                raise ContractError(f"point names {sorted(RESERVED_NAMES)} are reserved")
            where = self._places.get(device, NOWHERE)
            parents = self._meter_parents.get(site)
            parent = parents.get(device, "") if parents else ""
            return Record(site, gateway, device, data, where, parent)
        if kind is TopicKind.EVENT:
            event = parse_envelope(EventEnvelope, message.payload)
            if not RESERVED_NAMES.isdisjoint(event.attrs):
                raise ContractError(f"attribute names {sorted(RESERVED_NAMES)} are reserved")
            return EventRecord(site, gateway, device, event, self._places.get(device, NOWHERE))
        if kind is TopicKind.STATE:
            state = parse_envelope(StateEnvelope, message.payload)
            self._place(device, (state.building or "", state.floor or "", state.room or ""))
            return StateRecord(site, gateway, device, state)
        if kind is TopicKind.ALERTS:
            return AlertRecord(site, parse_envelope(AlertEnvelope, message.payload))
        if kind is TopicKind.USAGE:
            return UsageRecord(site, parse_envelope(UsageEnvelope, message.payload))
        if kind is TopicKind.METERS:
            trees = parse_envelope(MetersEnvelope, message.payload)
            self._meter_parents[site] = dict(trees.sub_meters)
        return None

    def _place(self, device: str, where: Where) -> None:
        """Remember where ``device`` is, for the tags of its readings and events."""
        if where == NOWHERE:
            self._places.pop(device, None)
            return
        if len(self._places) >= _PLACES_LIMIT and device not in self._places:
            self._places.clear()
        self._places[device] = where

    def _route(self, name: str) -> _Route:
        topic = Topic.parse(name, self.config.prefix)
        route = (topic.kind, topic.site or "", topic.gateway or "", topic.device or "")
        if topic.kind in _STORED_KINDS:  # only these come often enough to be worth keeping
            if len(self._routes) >= _ROUTES_LIMIT:
                self._routes.clear()
            self._routes[name] = route
        return route

    async def _write(
        self, records: list[tuple[Stored, Inbound]], encoded: bytes | None = None
    ) -> None:
        """Write with retries until stored; split a refused batch to isolate the bad records."""
        if not records:
            return
        backoff = Backoff(0.2, 10)
        while True:
            started = time.monotonic()
            try:
                async with self._sink_lock:
                    await self.sink.write([r for r, _ in records], encoded)
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

    def health(self) -> dict[str, int | float]:
        """The collector's own readings: counts since start, lag and messages unacknowledged."""
        return {
            "received": self.received,
            "stored": self.stored,
            "dead_letters": self.dead_letters,
            "retries": self.retries,
            "lag_s": round(self.lag_s, 3),
            "unacked": self.session.unacked,
        }

    async def _report_health(self) -> None:
        """Store :meth:`health` every ``health_interval_s`` (dropped while the store is down)."""
        while True:
            await asyncio.sleep(self.config.health_interval_s)
            record = HealthRecord(self.config.id, int(time.time() * 1000), self.health())
            try:
                async with self._sink_lock:
                    await self.sink.write([record])
            except (SinkError, SinkRejected) as exc:
                log.debug("own health not stored: %s", exc)

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
