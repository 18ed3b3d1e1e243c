"""Helpers of the durability suites (issue 8): notifications that carry a
counter, a keep-alive HTTP sender that records which got a 2xx, and gRPC
readers of the receiver's log."""
from __future__ import annotations

import http.client
import json
import threading
import time

import grpc

from tests.e2e.receiver_support import read_events
from tests.testing.services import RunningService


def notification(entity_id: str, n: int, pad: int = 0) -> bytes:
    """An NGSIv2 normalized notification of one entity with attribute n."""
    attrs = {"id": entity_id, "type": "Counter", "n": {"type": "Number", "value": n}}
    if pad:
        attrs["pad"] = {"type": "Text", "value": "x" * pad}
    return json.dumps({"subscriptionId": "durability", "data": [attrs]},
                      separators=(",", ":")).encode()


def event_n(event) -> int:
    return int(event.entities[0].attrs["n"].value.number_value)


class Sender:
    """POSTs notifications over one keep-alive connection; remembers the
    answer of each (status, or None when the connection failed)."""

    def __init__(self, port: int, timeout: float = 10):
        self.port = port
        self.timeout = timeout
        self.connection = None

    def post(self, body: bytes):
        for attempt in (1, 2):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=self.timeout)
                self.connection.request("POST", "/notify", body=body, headers={
                    "Content-Type": "application/json"})
                response = self.connection.getresponse()
                response.read()
                return response.status, dict(response.getheaders())
            except (OSError, http.client.HTTPException):
                self.close()
                # A stale keep-alive connection fails before sending: one
                # retry on a fresh one. Any other failure is "no answer".
                if attempt == 2:
                    return None, {}
        return None, {}

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class LoadThread(threading.Thread):
    """Sends notifications n = start, start+1, ... (entity `prefix`+n % entities)
    until stopped; `acked` holds the n that got a 2xx, `refused` the others."""

    def __init__(self, port: int, name: str, numbers, entities: int = 0, pad: int = 0):
        super().__init__(daemon=True)
        self.sender = Sender(port)
        self.name_ = name
        self.numbers = numbers
        self.entities = entities
        self.pad = pad
        self.acked: list[int] = []
        self.refused: list[int] = []
        self.statuses: list = []
        self.stop_event = threading.Event()

    def run(self):
        for n in self.numbers:
            if self.stop_event.is_set():
                break
            entity = f"{self.name_}-{n % self.entities}" if self.entities else f"{self.name_}-{n}"
            status, _ = self.sender.post(notification(entity, n, self.pad))
            self.statuses.append(status)
            if status is not None and 200 <= status < 300:
                self.acked.append(n)
            else:
                self.refused.append(n)
                if status is None:
                    time.sleep(0.01)
        self.sender.close()

    def stop(self):
        self.stop_event.set()
        self.join(30)


def receiver_info(stubs, grpc_port: int):
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = stubs.receiver_pb2_grpc.EventStreamStub(channel)
        return stub.Info(stubs.receiver_pb2.InfoRequest(), timeout=10)


def read_range(stubs, grpc_port: int, after: int, end: int, timeout: float = 60):
    """Events after `after` through `end` (inclusive), in order."""
    if end <= after:
        return []
    return read_events(stubs, grpc_port, after, end, timeout)


def durable_receiver(data_dir, *args) -> RunningService:
    return RunningService("ngsi-receiver", f"--data_dir={data_dir}", "--line_port=-1", *args)


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


def admin_metrics(service: RunningService) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", service.ports["admin_port"], timeout=10)
    try:
        connection.request("GET", "/metrics")
        return connection.getresponse().read().decode()
    finally:
        connection.close()
