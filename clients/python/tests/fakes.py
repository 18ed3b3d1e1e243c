"""In-process gRPC fakes of ngsi-receiver (EventStream) and ngsi-replier
(Replier) on 127.0.0.1:0, for the ngsi_bridge package tests."""
from __future__ import annotations

import re
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
if str(PACKAGE_ROOT) not in sys.path:
    sys.path.insert(0, str(PACKAGE_ROOT))

from ngsi_bridge.v1 import (ngsi_pb2, receiver_pb2, receiver_pb2_grpc,  # noqa: E402
                            replier_pb2, replier_pb2_grpc)
from ngsi_bridge import convert  # noqa: E402

Start = receiver_pb2.SubscribeRequest.Start


def make_event(seq: int, entity_id: str = "Room1", entity_type: str = "Room",
               service: str = "", temperature: float = 20.0) -> ngsi_pb2.NgsiEvent:
    event = ngsi_pb2.NgsiEvent(sequence=seq, service=service, service_path="/",
                               flavor=ngsi_pb2.NGSI_V2, format=ngsi_pb2.NORMALIZED)
    event.received_at.FromSeconds(1_700_000_000 + seq)
    event.entities.append(convert.entity_from_dict(
        {"id": entity_id, "type": entity_type,
         "temperature": {"type": "Number", "value": temperature}}))
    return event


class FakeReceiver(receiver_pb2_grpc.EventStreamServicer):
    """A log of events; Subscribe honours start, after, end and entity filters.

    ``drop_after`` (events per call) ends a stream with UNAVAILABLE after that many
    events, as a receiver restart would; ``requests`` records every Subscribe and
    SubscribeBatches call, ``batch_sizes`` the events of every batch sent. With
    ``batches=False`` SubscribeBatches is UNIMPLEMENTED, as on an older receiver."""

    def __init__(self):
        self.events: list = []
        self.earliest = 1
        self.requests: list = []
        self.drop_after: int | None = None
        self.drops = 0
        self.max_drops = 1_000_000
        self.cond = threading.Condition()
        self.closed = False
        self.batches = True
        self.batch_sizes: list = []

    def append(self, *events):
        with self.cond:
            self.events.extend(events)
            self.cond.notify_all()

    def latest(self) -> int:
        return self.events[-1].sequence if self.events else 0

    def _matches(self, event, flt) -> bool:
        if flt.service and event.service != flt.service:
            return False
        for entity in event.entities:
            if flt.entity_type and entity.type != flt.entity_type:
                continue
            if flt.entity_id and entity.id != flt.entity_id:
                continue
            if flt.entity_id_pattern and not re.fullmatch(flt.entity_id_pattern, entity.id):
                continue
            return True
        return not event.entities and not (flt.entity_type or flt.entity_id)

    def Subscribe(self, request, context):
        for chunk in self._chunks(request, context):
            yield from chunk

    def SubscribeBatches(self, request, context):
        if not self.batches:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        for chunk in self._chunks(request, context):
            self.batch_sizes.append(len(chunk))
            yield receiver_pb2.NgsiEventBatch(events=chunk)

    def _chunks(self, request, context):
        """Lists of the matching events that were pending together, in order."""
        self.requests.append(request)
        with self.cond:
            if request.start == Start.EARLIEST:
                next_seq = self.earliest
            elif request.start == Start.AFTER:
                next_seq = request.after_sequence + 1
                if next_seq < self.earliest:
                    context.abort(grpc.StatusCode.OUT_OF_RANGE,
                                  f"sequence {next_seq} is gone; earliest retained is {self.earliest}")
            else:
                next_seq = self.latest() + 1
        sent = 0
        while context.is_active():
            with self.cond:
                pending = [e for e in self.events if e.sequence >= next_seq]
                if not pending:
                    if request.end_sequence and next_seq > request.end_sequence:
                        return
                    self.cond.wait(0.05)
                    continue
            chunk = []
            for event in pending:
                if request.end_sequence and event.sequence > request.end_sequence:
                    break
                next_seq = event.sequence + 1
                if not self._matches(event, request.filter):
                    continue
                if self.drop_after is not None and sent >= self.drop_after \
                        and self.drops < self.max_drops:
                    if chunk:
                        yield chunk
                    self.drops += 1
                    context.abort(grpc.StatusCode.UNAVAILABLE, "receiver restarting")
                sent += 1
                chunk.append(event)
            if chunk:
                yield chunk
            if request.end_sequence and next_seq > request.end_sequence:
                return

    def Info(self, request, context):
        return receiver_pb2.InfoResponse(earliest_sequence=self.earliest if self.events else 0,
                                         latest_sequence=self.latest(),
                                         retained_events=len(self.events), version="fake")


class FakeReplier(replier_pb2_grpc.ReplierServicer):
    """Records requests; entities whose id starts with ``bad`` fail with 422."""

    def __init__(self):
        self.requests: list = []
        self.passthroughs: list = []
        self.brokers = [replier_pb2.BrokerInfo(name="orion", url="http://127.0.0.1:1026",
                                               flavor=ngsi_pb2.NGSI_V2)]
        self.stream_calls = 0

    def _answer(self, request):
        self.requests.append(request)
        response = replier_pb2.WriteResponse(request_id=request.request_id, broker_calls=1)
        for entity in request.entities:
            if entity.id.startswith("bad"):
                response.results.add(id=entity.id, type=entity.type, code=9, http_status=422,
                                     broker_error="Unprocessable")
                response.failed += 1
            else:
                response.results.add(id=entity.id, type=entity.type, code=0, http_status=204)
                response.succeeded += 1
        return response

    def Write(self, request, context):
        if request.broker not in [b.name for b in self.brokers]:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown broker {request.broker!r}")
        return self._answer(request)

    def WriteStream(self, request_iterator, context):
        self.stream_calls += 1
        for request in request_iterator:
            yield self._answer(request)

    def Passthrough(self, request, context):
        self.passthroughs.append(request)
        return replier_pb2.PassthroughResponse(status=204, body=f"ok {request.method} {request.path}")

    def ListBrokers(self, request, context):
        return replier_pb2.ListBrokersResponse(brokers=self.brokers)


class _Server:
    def __init__(self, servicer, add):
        self.servicer = servicer
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        add(servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"
        self.server.start()

    def stop(self):
        self.server.stop(grace=None)


