"""EventSubscriber: iterate ngsi-receiver events over gRPC, resuming by itself.

    from ngsi_bridge import EventSubscriber
    with EventSubscriber("127.0.0.1:50051", start="earliest", entity_type="Room") as sub:
        for event in sub.views():
            print(event.sequence, event.entities[0].attrs["temperature"].value)

After a dropped connection (receiver restart, network blip) the subscriber
reconnects with ``Subscribe(start=AFTER, after_sequence=<last seen>)``: no
gap, no duplicate. A start no longer retained raises ``EventsLostError``
rather than skipping events.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Iterator, Optional, Sequence, Union

import grpc

from ngsi_bridge.errors import EventsLostError, ReceiverError
from ngsi_bridge.v1 import ngsi_pb2, receiver_pb2, receiver_pb2_grpc
from ngsi_bridge.view import EventView

Start = receiver_pb2.SubscribeRequest.Start
_START_NAMES = {"latest": Start.LATEST, "earliest": Start.EARLIEST, "after": Start.AFTER}
# Errors after which reconnecting can help; anything else is the caller's to fix.
_TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN,
              grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED}

StartLike = Union[str, int]


# Reconnect quickly after a receiver restart (gRPC's default backoff grows to 120 s).
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 2000),
                   ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                   ("grpc.max_send_message_length", 64 * 1024 * 1024)]


def open_channel(address: str) -> grpc.Channel:
    """An insecure channel to ``host:port`` with fast reconnects and 64 MiB messages."""
    if not address or ":" not in address:
        raise ValueError(f"address {address!r} is not host:port (for example 127.0.0.1:50051)")
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)


def make_filter(service: str = "", service_path_prefix: str = "", entity_type: str = "",
                entity_id: str = "", entity_id_pattern: str = "",
                attrs: Sequence[str] = ()) -> receiver_pb2.EventFilter:
    """An ``EventFilter`` (empty arguments match anything)."""
    return receiver_pb2.EventFilter(
        service=service, service_path_prefix=service_path_prefix, entity_type=entity_type,
        entity_id=entity_id, entity_id_pattern=entity_id_pattern, attrs=list(attrs))


class EventSubscriber:
    """Iterates ``NgsiEvent``s from one receiver, reconnecting after failures.

    Args:
        address: the receiver's gRPC ``host:port``.
        start: ``"latest"`` (events appended from now on), ``"earliest"``
            (everything retained), ``"after"`` with ``after_sequence``, or an
            int N meaning "after N" (``Start`` enum values are not accepted:
            they are ints too).
        after_sequence: with ``start="after"``: the last sequence already
            processed; the stream begins at ``after_sequence + 1``.
        end_sequence: inclusive last sequence; iteration ends after it (0 = follow forever).
        service, service_path_prefix, entity_type, entity_id, entity_id_pattern, attrs:
            server-side filter and projection (see ``receiver.proto``).
        reconnect: reconnect after transient errors and after the receiver ends
            the stream early (drain). False raises ``ReceiverError`` instead.
        give_up_after: seconds of failed reconnection (no event received) before
            raising ``ReceiverError``; None retries forever.
        channel: an existing ``grpc.Channel`` to use instead of opening one.
        batches: read through ``SubscribeBatches`` (several events per gRPC
            message when the receiver has a backlog: far fewer messages for
            Python to decode under load); falls back to ``Subscribe`` on a
            receiver without it. Events and their order are the same.
        batch_delay_ms: with ``batches``: how long the receiver lets a message
            that holds an event wait for more (``max_batch_delay_ms``, at most
            1000). The default 5 ms adds at most that to each event's latency
            and, under a steady flow, turns one message per event into one per
            several, which costs the receiver and this process far less. 0
            sends every event at once.

    One thread iterates; ``close()`` may be called from any thread and ends the
    iteration. ``last_sequence`` is the last sequence delivered (None before one).
    """

    def __init__(self, address: str, start: StartLike = "latest", *,
                 after_sequence: int = 0, end_sequence: int = 0,
                 service: str = "", service_path_prefix: str = "", entity_type: str = "",
                 entity_id: str = "", entity_id_pattern: str = "", attrs: Sequence[str] = (),
                 reconnect: bool = True, give_up_after: Optional[float] = 60.0,
                 initial_backoff: float = 0.1, max_backoff: float = 5.0,
                 channel: Optional[grpc.Channel] = None, batches: bool = True,
                 batch_delay_ms: int = 5):
        self.address = address
        self.batches = batches
        if not 0 <= int(batch_delay_ms) <= 1000:
            raise ValueError(f"batch_delay_ms={batch_delay_ms}: use 0..1000")
        self.batch_delay_ms = int(batch_delay_ms)
        self._start, self._after = self._parse_start(start, after_sequence)
        self.end_sequence = int(end_sequence)
        self.filter = make_filter(service, service_path_prefix, entity_type, entity_id,
                                  entity_id_pattern, attrs)
        self.reconnect = reconnect
        self.give_up_after = give_up_after
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._own_channel = channel is None
        self._channel = channel or open_channel(address)
        self._stub = receiver_pb2_grpc.EventStreamStub(self._channel)
        self._lock = threading.Lock()
        self._call = None
        self._closed = threading.Event()
        self.last_sequence: Optional[int] = None
        self.reconnects = 0

    @staticmethod
    def _parse_start(start: StartLike, after_sequence: int) -> tuple[int, int]:
        # An int is always a sequence ("after N"): Start values are ints too, so
        # they are not accepted here; use the strings.
        if isinstance(start, int) and not isinstance(start, bool):
            if start < 0:
                raise ValueError(f"start={start}: a sequence number is >= 0")
            return Start.AFTER, int(start)
        if isinstance(start, str):
            key = start.strip().lower()
            if key.isdigit():
                return Start.AFTER, int(key)
            if key in _START_NAMES:
                return _START_NAMES[key], int(after_sequence)
        raise ValueError(f"start={start!r}: use 'latest', 'earliest', 'after' (with "
                         "after_sequence=) or a sequence number")

    # -- info -----------------------------------------------------------------------------

    def info(self, timeout: float = 10.0) -> receiver_pb2.InfoResponse:
        """The receiver's retained range (``EventStream.Info``). Raises ReceiverError."""
        try:
            return self._stub.Info(receiver_pb2.InfoRequest(), timeout=timeout, wait_for_ready=True)
        except grpc.RpcError as exc:
            raise ReceiverError(
                f"EventStream.Info on {self.address} failed: {exc.code().name} {exc.details()}; "
                "check that ngsi-receiver runs and the address is its --grpc_port") from None

    # -- iteration ------------------------------------------------------------------------

    def _request(self) -> receiver_pb2.SubscribeRequest:
        if self.last_sequence is not None:
            start, after = Start.AFTER, self.last_sequence
        else:
            start, after = self._start, self._after
        return receiver_pb2.SubscribeRequest(start=start, after_sequence=after,
                                             end_sequence=self.end_sequence, filter=self.filter,
                                             max_batch_delay_ms=self.batch_delay_ms)

    def _pin_latest(self) -> None:
        """Turns a LATEST start into AFTER <latest now>, so that a reconnect
        before the first event neither skips nor repeats anything."""
        if self._start != Start.LATEST or self.last_sequence is not None:
            return
        try:
            info = self._stub.Info(receiver_pb2.InfoRequest(), timeout=10, wait_for_ready=True)
        except grpc.RpcError:
            return  # Info unavailable: LATEST as asked; resume starts after the first event
        self._start, self._after = Start.AFTER, info.latest_sequence

    def events(self) -> Iterator[ngsi_pb2.NgsiEvent]:
        """Yields events (protobuf) in sequence order until ``end_sequence``, ``close()``,
        or a permanent error (``ReceiverError``, ``EventsLostError``)."""
        backoff = self.initial_backoff
        failing_since: Optional[float] = None
        self._pin_latest()
        while not self._closed.is_set():
            if self.end_sequence and self.last_sequence is not None \
                    and self.last_sequence >= self.end_sequence:
                return
            request = self._request()
            with self._lock:
                if self._closed.is_set():
                    return
                # Fail fast (no wait_for_ready): our loop backs off.
                call = (self._stub.SubscribeBatches if self.batches
                        else self._stub.Subscribe)(request)
                self._call = call
            error: Optional[grpc.RpcError] = None
            try:
                for event in self._events_of(call):
                    if self.last_sequence is not None and event.sequence <= self.last_sequence:
                        continue  # defensive: never deliver a duplicate
                    self.last_sequence = event.sequence
                    failing_since, backoff = None, self.initial_backoff
                    yield event
                    if self.end_sequence and event.sequence >= self.end_sequence:
                        call.cancel()
                        return
            except grpc.RpcError as exc:
                error = exc
            finally:
                with self._lock:
                    self._call = None
            if self._closed.is_set():
                return
            if error is None:
                if self.end_sequence:
                    return  # completed with OK after end_sequence (filtered tail)
                reason = "the receiver ended the stream (draining?)"
            else:
                code = error.code()
                if code == grpc.StatusCode.UNIMPLEMENTED and self.batches:
                    self.batches = False  # an older receiver: one event per message
                    continue
                if code == grpc.StatusCode.OUT_OF_RANGE:
                    after = request.after_sequence if request.start == Start.AFTER else 0
                    raise EventsLostError(
                        f"receiver {self.address} no longer retains the events after sequence "
                        f"{after}: {error.details()}; resume from the earliest retained event "
                        "(start='earliest') knowing events were lost, or raise the receiver's "
                        "retention", requested_after=after,
                        earliest=_earliest_from(error.details())) from None
                if code not in _TRANSIENT:
                    raise ReceiverError(
                        f"EventStream.Subscribe on {self.address} failed: {code.name} "
                        f"{error.details()}") from None
                reason = f"{code.name} {error.details()}"
            if not self.reconnect:
                raise ReceiverError(f"stream from {self.address} ended: {reason}")
            now = time.monotonic()
            failing_since = failing_since or now
            if self.give_up_after is not None and now - failing_since > self.give_up_after:
                raise ReceiverError(
                    f"could not resume the stream from {self.address} for "
                    f"{self.give_up_after:.0f}s (last error: {reason}); check that ngsi-receiver "
                    "runs and that the address is its --grpc_port")
            self.reconnects += 1
            if self._closed.wait(backoff * (0.5 + random.random() / 2)):
                return
            backoff = min(backoff * 2, self.max_backoff)

    def _events_of(self, call) -> Iterator[ngsi_pb2.NgsiEvent]:
        if not self.batches:
            yield from call
            return
        for batch in call:
            yield from batch.events

    def __iter__(self) -> Iterator[ngsi_pb2.NgsiEvent]:
        return self.events()

    def views(self) -> Iterator[EventView]:
        """Like ``events()``, each wrapped in an ``EventView`` (plain Python values)."""
        for event in self.events():
            yield EventView(event)

    def close(self) -> None:
        """Ends the iteration (from any thread) and closes an owned channel. Idempotent."""
        self._closed.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()
        if self._own_channel:
            self._channel.close()

    def __enter__(self) -> "EventSubscriber":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _earliest_from(details: str) -> int:
    import re
    match = re.search(r"earliest[^0-9]*(\d+)", details or "")
    return int(match.group(1)) if match else 0
