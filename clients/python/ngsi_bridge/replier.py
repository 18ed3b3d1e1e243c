"""ReplierClient: write entities back to a broker through ngsi-replier.

    from ngsi_bridge import ReplierClient
    with ReplierClient("127.0.0.1:50052", broker="orion") as replier:
        result = replier.write([{"id": "Room1", "type": "Room", "temperature": 21.5}],
                               op="upsert", service="smartcity", service_path="/madrid")
        result.raise_for_errors()

Entities may be plain dicts (normalized or keyValues, NGSIv2 or NGSI-LD) or
``ngsi_pb2.Entity`` messages. ``write`` sends one ``Replier.Write`` per
``batch_size`` entities; ``write_many`` pipelines batches over
``Replier.WriteStream``; ``Batcher`` accumulates entities and flushes by size.
The replier itself splits batches under the broker's limits and retries.
"""
from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import grpc

from ngsi_bridge import convert
from ngsi_bridge.errors import ReplierError
from ngsi_bridge.subscriber import open_channel
from ngsi_bridge.v1 import replier_pb2, replier_pb2_grpc

Operation = replier_pb2.Operation
_OPS = {
    "create": Operation.OPERATION_CREATE, "upsert": Operation.OPERATION_UPSERT,
    "update": Operation.OPERATION_UPDATE, "append": Operation.OPERATION_APPEND,
    "append_strict": Operation.OPERATION_APPEND_STRICT, "replace": Operation.OPERATION_REPLACE,
    "delete": Operation.OPERATION_DELETE,
}
OpLike = Union[str, int]


def parse_operation(op: OpLike) -> int:
    """``"upsert"``, ``"append-strict"``, ``"OPERATION_UPDATE"`` or an ``Operation`` value."""
    if isinstance(op, str):
        key = op.strip().lower().replace("-", "_")
        key = key[len("operation_"):] if key.startswith("operation_") else key
        if key not in _OPS:
            raise ValueError(f"op={op!r} is not an operation: use one of {sorted(_OPS)}")
        return _OPS[key]
    if op not in Operation.values() or op == Operation.OPERATION_UNSPECIFIED:
        raise ValueError(f"op={op!r} is not an operation: use one of {sorted(_OPS)}")
    return int(op)


@dataclass
class WriteResult:
    """The outcome of one ``write``: one ``EntityResult`` per entity, in order."""

    results: list = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    broker_calls: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def errors(self) -> list:
        """The results whose ``code`` is not 0 (OK)."""
        return [r for r in self.results if r.code != 0]

    def add(self, response: replier_pb2.WriteResponse) -> None:
        self.results.extend(response.results)
        self.succeeded += response.succeeded
        self.failed += response.failed
        self.broker_calls += response.broker_calls

    def raise_for_errors(self) -> "WriteResult":
        """Raises ReplierError listing the first failures; returns self when all succeeded."""
        if self.failed:
            sample = "; ".join(
                f"{r.id} ({r.type}): code {r.code} http {r.http_status} {r.message or r.broker_error}"
                for r in self.errors[:5])
            raise ReplierError(f"{self.failed} of {len(self.results)} entities were not written: {sample}")
        return self

    def __repr__(self) -> str:
        return (f"WriteResult(succeeded={self.succeeded}, failed={self.failed}, "
                f"broker_calls={self.broker_calls})")


def _chunks(items: Iterable[Any], size: int) -> Iterator[list]:
    it = iter(items)
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


class ReplierClient:
    """Client of one ngsi-replier. Thread-safe (gRPC channels and stubs are).

    Args:
        address: the replier's gRPC ``host:port``.
        broker: default broker name (as configured with ``--broker=NAME=URL``);
            "" lets ``write`` use the replier's only broker.
        service, service_path: default tenant headers.
        batch_size: entities per ``Write`` request.
        timeout: seconds per request (the replier retries the broker within it).
        input_format: how dict entities are read: "auto", "normalized" or "keyValues".
    """

    def __init__(self, address: str, broker: str = "", *, service: str = "",
                 service_path: str = "", batch_size: int = 500, timeout: float = 60.0,
                 input_format: convert.InputFormat = "auto",
                 channel: Optional[grpc.Channel] = None):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be at least 1")
        self.address = address
        self.broker = broker
        self.service = service
        self.service_path = service_path
        self.batch_size = batch_size
        self.timeout = timeout
        self.input_format = input_format
        self._own_channel = channel is None
        self._channel = channel or open_channel(address)
        self._stub = replier_pb2_grpc.ReplierStub(self._channel)
        self._default_broker: Optional[str] = None
        self._lock = threading.Lock()

    # -- helpers --------------------------------------------------------------------------

    def _rpc_error(self, method: str, exc: grpc.RpcError) -> ReplierError:
        hint = {
            grpc.StatusCode.UNAVAILABLE: "check that ngsi-replier runs and the address is its --grpc_port",
            grpc.StatusCode.NOT_FOUND: "check the broker name against ListBrokers / --broker",
            grpc.StatusCode.INVALID_ARGUMENT: "fix the request as the message says",
            grpc.StatusCode.DEADLINE_EXCEEDED: (
                "no answer in time: check that ngsi-replier runs at this address and the "
                "broker is healthy, or raise timeout="),
        }.get(exc.code(), "see the replier's logs")
        return ReplierError(f"Replier.{method} on {self.address} failed: {exc.code().name} "
                            f"{exc.details()}; {hint}")

    def _broker(self, broker: Optional[str]) -> str:
        name = broker if broker is not None else self.broker
        if name:
            return name
        with self._lock:
            if self._default_broker is None:
                brokers = self.list_brokers()
                if len(brokers) != 1:
                    raise ReplierError(
                        f"no broker named and the replier at {self.address} has "
                        f"{len(brokers)} brokers ({[b.name for b in brokers]}): pass broker=")
                self._default_broker = brokers[0].name
            return self._default_broker

    def _request(self, entities: Sequence[Any], op: OpLike, broker: Optional[str],
                 service: Optional[str], service_path: Optional[str], correlator: str,
                 delete_attributes: bool, contexts: Sequence[Any],
                 request_id: str = "") -> replier_pb2.WriteRequest:
        return replier_pb2.WriteRequest(
            broker=self._broker(broker), operation=parse_operation(op),
            entities=convert.to_entities(entities, self.input_format),
            service=self.service if service is None else service,
            service_path=self.service_path if service_path is None else service_path,
            correlator=correlator, request_id=request_id or uuid.uuid4().hex,
            delete_attributes=delete_attributes,
            contexts=[convert.to_value(c) for c in contexts])

    # -- API ------------------------------------------------------------------------------

    def write(self, entities: Union[Iterable[convert.EntityLike], convert.EntityLike],
              op: OpLike = "upsert", *, broker: Optional[str] = None,
              service: Optional[str] = None, service_path: Optional[str] = None,
              correlator: str = "", delete_attributes: bool = False,
              contexts: Sequence[Any] = (), batch_size: Optional[int] = None) -> WriteResult:
        """Writes entities with ``op`` and returns one result per entity, in order.

        Sends one ``Replier.Write`` per ``batch_size`` entities (blocking).
        Per-entity failures are in the result (``result.raise_for_errors()``);
        a failed request raises ReplierError.
        """
        if isinstance(entities, Mapping) or hasattr(entities, "attrs"):
            entities = [entities]
        result = WriteResult()
        for chunk in _chunks(entities, batch_size or self.batch_size):
            request = self._request(chunk, op, broker, service, service_path, correlator,
                                    delete_attributes, contexts)
            try:
                response = self._stub.Write(request, timeout=self.timeout, wait_for_ready=True)
            except grpc.RpcError as exc:
                raise self._rpc_error("Write", exc) from None
            result.add(response)
        return result

    def write_many(self, entities: Iterable[convert.EntityLike], op: OpLike = "upsert", *,
                   broker: Optional[str] = None, service: Optional[str] = None,
                   service_path: Optional[str] = None, correlator: str = "",
                   batch_size: Optional[int] = None) -> WriteResult:
        """Like ``write`` but pipelines the batches over one ``Replier.WriteStream``
        (the next batch is sent before the previous answer arrives). Falls back to
        ``write`` when the replier does not implement WriteStream."""
        size = batch_size or self.batch_size
        requests = [self._request(chunk, op, broker, service, service_path, correlator, False, ())
                    for chunk in _chunks(entities, size)]
        result = WriteResult()
        if not requests:
            return result
        try:
            responses = self._stub.WriteStream(iter(requests), timeout=self.timeout * len(requests),
                                               wait_for_ready=True)
            by_id = {}
            for response in responses:
                by_id[response.request_id] = response
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                for request in requests:
                    result.add(self._stub.Write(request, timeout=self.timeout, wait_for_ready=True))
                return result
            raise self._rpc_error("WriteStream", exc) from None
        for request in requests:
            if request.request_id not in by_id:
                raise ReplierError(f"Replier.WriteStream on {self.address} ended without answering "
                                   f"request {request.request_id}; retry the write")
            result.add(by_id[request.request_id])
        return result

    def batcher(self, op: OpLike = "upsert", *, batch_size: Optional[int] = None,
                **write_kwargs: Any) -> "Batcher":
        """A ``Batcher`` bound to this client (see there)."""
        return Batcher(self, op, batch_size=batch_size or self.batch_size, **write_kwargs)

    def passthrough(self, method: str, path: str, *, body: str = "", query: str = "",
                    headers: Optional[Mapping[str, str]] = None,
                    broker: Optional[str] = None) -> replier_pb2.PassthroughResponse:
        """One raw NGSI call to a configured broker (path under its base URL)."""
        request = replier_pb2.PassthroughRequest(
            broker=self._broker(broker), method=method.upper(), path=path, query=query,
            headers=dict(headers or {}), body=body)
        try:
            return self._stub.Passthrough(request, timeout=self.timeout, wait_for_ready=True)
        except grpc.RpcError as exc:
            raise self._rpc_error("Passthrough", exc) from None

    def list_brokers(self) -> list:
        """The brokers configured on the replier (``BrokerInfo``: name, url, flavor)."""
        try:
            return list(self._stub.ListBrokers(replier_pb2.ListBrokersRequest(),
                                               timeout=self.timeout, wait_for_ready=True).brokers)
        except grpc.RpcError as exc:
            raise self._rpc_error("ListBrokers", exc) from None

    def close(self) -> None:
        if self._own_channel:
            self._channel.close()

    def __enter__(self) -> "ReplierClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Batcher:
    """Accumulates entities and writes them ``batch_size`` at a time.

        with replier.batcher("upsert", batch_size=200, service="demo") as batch:
            for row in rows:
                batch.add({"id": row.id, "type": "T", "score": row.score})
        print(batch.result)

    ``add`` blocks while a full batch is written; ``flush`` writes the rest;
    leaving the ``with`` block flushes. ``result`` aggregates every write. Not thread-safe.
    """

    def __init__(self, client: ReplierClient, op: OpLike = "upsert", *, batch_size: int = 500,
                 **write_kwargs: Any):
        self.client = client
        self.op = op
        self.batch_size = batch_size
        self.write_kwargs = write_kwargs
        self.pending: list = []
        self.result = WriteResult()

    def add(self, entity: convert.EntityLike) -> None:
        self.pending.append(entity)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def extend(self, entities: Iterable[convert.EntityLike]) -> None:
        for entity in entities:
            self.add(entity)

    def flush(self) -> WriteResult:
        if self.pending:
            batch, self.pending = self.pending, []
            partial = self.client.write(batch, self.op, batch_size=self.batch_size, **self.write_kwargs)
            self.result.results.extend(partial.results)
            self.result.succeeded += partial.succeeded
            self.result.failed += partial.failed
            self.result.broker_calls += partial.broker_calls
        return self.result

    def __enter__(self) -> "Batcher":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.flush()
