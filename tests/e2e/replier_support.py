"""Helpers for the ngsi-replier end-to-end suites: a replier wired to a
broker simulator, entity builders and broker read-back."""
from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import grpc
import pytest

from tests.testing.broker_sim.harness import RunningBrokerSim
from tests.testing.services import RunningService

OK, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS = 0, 3, 4, 5, 6
FAILED_PRECONDITION, UNAVAILABLE = 9, 14


class Replier:
    """ngsi-replier started with `brokers` (--broker values) and a gRPC stub."""

    def __init__(self, stubs, *args):
        self.stubs = stubs
        self.service = RunningService("ngsi-replier", *args)

    def __enter__(self):
        self.service.start()
        self.channel = grpc.insecure_channel(self.service.address())
        self.stub = self.stubs.replier_pb2_grpc.ReplierStub(self.channel)
        return self

    def __exit__(self, *exc):
        self.channel.close()
        self.service.stop()

    def metrics(self) -> str:
        port = self.service.ports["admin_port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return r.read().decode()

    def write(self, broker, operation, entities, timeout=30, **fields):
        pb = self.stubs.replier_pb2
        request = pb.WriteRequest(broker=broker, operation=operation,
                                  entities=entities, **fields)
        return self.stub.Write(request, timeout=timeout)


def v2_entity(stubs, entity_id, entity_type="T", **attrs):
    """Normalized NGSIv2 entity; attrs name=value become Number/Text."""
    entity = stubs.ngsi_pb2.Entity(id=entity_id, type=entity_type)
    for name, value in attrs.items():
        attr = entity.attrs[name]
        attr.type = "Number" if isinstance(value, (int, float)) else "Text"
        set_value(attr.value, value)
    return entity


def ld_entity(stubs, entity_id, entity_type="T", **attrs):
    entity = stubs.ngsi_pb2.Entity(id=entity_id, type=entity_type)
    for name, value in attrs.items():
        attr = entity.attrs[name]
        attr.type = "Property"
        set_value(attr.value, value)
    return entity


def set_value(target, value):
    if value is None:
        target.null_value = 0
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, (int, float)):
        target.number_value = value
    else:
        target.string_value = value


def broker_get(sim: RunningBrokerSim, path: str, headers=None):
    """(status, parsed body or None, headers) of GET `path` on the simulator."""
    request = urllib.request.Request(sim.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            body = r.read()
            return r.status, (json.loads(body) if body else None), dict(r.headers)
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, (json.loads(body) if body else None), dict(error.headers)


def v2_get(sim, entity_id, **headers):
    return broker_get(sim, "/v2/entities/" + urllib.parse.quote(entity_id, safe=""),
                      headers)


def ld_get(sim, entity_id, **headers):
    return broker_get(sim, "/ngsi-ld/v1/entities/" + urllib.parse.quote(entity_id, safe=""),
                      headers)


def v2_count(sim, headers=None):
    _, _, answer = broker_get(sim, "/v2/entities?options=count&limit=1", headers)
    return int(answer.get("Fiware-Total-Count", "0"))


def writes(sim, prefix, at_least=1):
    """Logged requests whose path starts with `prefix`. The simulator logs a
    request after answering it, so the replier can be done before the log
    is: wait (up to 5 s) for `at_least` entries and for the log to settle."""
    deadline = time.monotonic() + 5
    previous = None
    while True:
        found = [r for r in sim.requests() if r["path"].startswith(prefix)]
        if (len(found) >= at_least and previous is not None
                and len(found) == len(previous)) or time.monotonic() > deadline:
            return found
        previous = found
        time.sleep(0.05)


# Fixtures of both replier suites, which import them: one broker simulator
# per module, emptied before each test, and the replier protobuf module.
@pytest.fixture(scope="module")
def sim():
    with RunningBrokerSim() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_broker(sim):
    sim.reset()


@pytest.fixture
def pb(ngsi_stubs):
    return ngsi_stubs.replier_pb2


def codes(response):
    """The per-entity result codes of a Write response, in order."""
    return [r.code for r in response.results]
