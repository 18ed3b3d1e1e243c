"""ngsi-replier under broker faults: retries with backoff through 503, 429
and dropped connections with nothing lost and nothing applied twice, no
retry on other 4xx, timeouts, and a broker that stays down."""
import json
import socket
import time

import pytest

from tests.e2e.replier_support import (  # noqa: F401 (fresh_broker, pb, sim: fixtures)
    ALREADY_EXISTS, DEADLINE_EXCEEDED, NOT_FOUND, OK, UNAVAILABLE, Replier,
    codes, fresh_broker, ld_entity, pb, sim, v2_count, v2_entity, writes)


@pytest.fixture(scope="module")
def replier(ngsi_stubs, sim):
    with Replier(ngsi_stubs, f"--broker=orion={sim.url},timeout_ms=400",
                 f"--broker=ld={sim.url},flavor=ld,timeout_ms=400",
                 "--retry_initial_backoff_ms=20", "--retry_max_backoff_ms=200",
                 "--retry_max_attempts=6") as running:
        yield running


def applied_calls(sim, path, at_least=1):
    """Requests the broker really processed (not failed by a fault)."""
    return [c for c in writes(sim, path, at_least) if (c["status"] or 999) < 300]


def test_create_through_503s_and_dropped_connections_applies_each_entity_once(
        replier, sim, pb, ngsi_stubs):
    sim.add_fault({"status": 503, "count": 2, "path_prefix": "/v2/op/update"})
    sim.add_fault({"drop_connection": True, "count": 2, "path_prefix": "/v2/op/update"})
    entities = [v2_entity(ngsi_stubs, f"R{i}", A=i) for i in range(50)]
    # appendStrict is not idempotent: a second application would answer 422.
    response = replier.write("orion", pb.OPERATION_CREATE, entities)
    assert codes(response) == [OK] * 50
    assert v2_count(sim) == 50
    processed = applied_calls(sim, "/v2/op/update", at_least=5)
    assert len(processed) == 1
    ids = [e["id"] for e in json.loads(processed[0]["body"])["entities"]]
    assert sorted(ids) == sorted(f"R{i}" for i in range(50))
    metrics = replier.metrics()
    assert 'ngsi_replier_retries_total{broker="orion",reason="503"} 2' in metrics


def test_ld_upsert_through_faults_loses_nothing(replier, sim, pb, ngsi_stubs):
    sim.add_fault({"status": 500, "count": 1})
    sim.add_fault({"drop_connection": True, "count": 1})
    entities = [ld_entity(ngsi_stubs, f"urn:ngsi-ld:R:{i}", P=i) for i in range(250)]
    response = replier.write("ld", pb.OPERATION_UPSERT, entities)
    assert response.succeeded == 250
    sent = [e["id"] for c in applied_calls(sim, "/ngsi-ld/v1/entityOperations/upsert",
                                           at_least=response.broker_calls + 2)
            for e in json.loads(c["body"])]
    assert sorted(sent) == sorted(e.id for e in entities)  # each exactly once


def test_429_retry_after_is_honoured(replier, sim, pb, ngsi_stubs):
    sim.add_fault({"status": 429, "retry_after": 1, "count": 1})
    started = time.monotonic()
    response = replier.write("orion", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "E", A=1)])
    assert codes(response) == [OK]
    assert time.monotonic() - started >= 0.9


def test_other_4xx_are_never_retried(replier, sim, pb, ngsi_stubs):
    sim.add_fault({"status": 403, "count": 5})
    response = replier.write("orion", pb.OPERATION_UPSERT,
                             [v2_entity(ngsi_stubs, "E1", A=1), v2_entity(ngsi_stubs, "E2", A=1)])
    assert [r.http_status for r in response.results] == [403, 403]
    assert codes(response) == [7, 7]  # PERMISSION_DENIED
    assert len(writes(sim, "/v2/op/update")) == 1


def test_slow_broker_is_retried_after_timeout(replier, sim, pb, ngsi_stubs):
    # The first attempt times out (400 ms); the retry is answered.
    sim.add_fault({"delay_ms": 900, "count": 1, "status": 503})
    response = replier.write("orion", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "E", A=1)])
    assert codes(response) == [OK]


def test_non_idempotent_retry_after_lost_answer_never_applies_twice(replier, sim, pb, ngsi_stubs):
    # The broker applies the create but the answer is lost (delay past the
    # timeout, then the request is processed anyway): the retry must not
    # create twice, and the result says what may have happened.
    sim.add_fault({"delay_ms": 700, "count": 1, "path_prefix": "/v2/op/update"})
    response = replier.write("orion", pb.OPERATION_CREATE, [v2_entity(ngsi_stubs, "L", A=1)])
    assert v2_count(sim) == 1
    result = response.results[0]
    assert result.code in (OK, ALREADY_EXISTS)
    if result.code == ALREADY_EXISTS:
        assert "may have applied this write already" in result.message


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_broker_that_stays_down_gives_unavailable_per_entity_within_deadline(ngsi_stubs, pb):
    down = f"http://127.0.0.1:{free_port()}"
    with Replier(ngsi_stubs, f"--broker=down={down}", f"--broker=ldown={down},flavor=ld",
                 "--retry_initial_backoff_ms=50", "--retry_max_attempts=100") as replier:
        for broker in ("down", "ldown"):
            entity = (v2_entity if broker == "down" else ld_entity)(
                ngsi_stubs, "urn:a:1" if broker == "ldown" else "E1", A=1)
            started = time.monotonic()
            response = replier.write(broker, pb.OPERATION_UPSERT, [entity, entity], timeout=2)
            elapsed = time.monotonic() - started
            assert elapsed < 2
            assert codes(response) == [UNAVAILABLE, UNAVAILABLE], response
            assert "unreachable" in response.results[0].message


def test_deadline_shorter_than_the_broker_gives_deadline_exceeded(replier, sim, pb, ngsi_stubs):
    sim.add_fault({"delay_ms": 3000, "count": 10})
    started = time.monotonic()
    response = replier.write("orion", pb.OPERATION_UPSERT, [v2_entity(ngsi_stubs, "E", A=1)],
                             timeout=1.5)
    assert time.monotonic() - started < 1.5
    assert codes(response) in ([DEADLINE_EXCEEDED], [UNAVAILABLE])


def test_broker_that_stops_listening_briefly_loses_nothing(replier, sim, pb, ngsi_stubs):
    sim.admin("POST", "/__sim/faults", {"stop_listening_ms": 300})
    response = replier.write("orion", pb.OPERATION_CREATE,
                             [v2_entity(ngsi_stubs, f"D{i}", A=i) for i in range(10)])
    assert codes(response) == [OK] * 10 and v2_count(sim) == 10


def test_stream_survives_faults_and_keeps_order(replier, sim, pb, ngsi_stubs):
    sim.add_fault({"status": 503, "count": 3})
    def requests():
        for i in range(20):
            yield pb.WriteRequest(broker="orion", operation=pb.OPERATION_CREATE,
                                  request_id=str(i), entities=[v2_entity(ngsi_stubs, f"W{i}", A=i)])
    responses = list(replier.stub.WriteStream(requests(), timeout=30))
    assert [r.request_id for r in responses] == [str(i) for i in range(20)]
    assert all(codes(r) == [OK] for r in responses)
    assert v2_count(sim) == 20
    assert NOT_FOUND not in [c for r in responses for c in codes(r)]


def _passthrough(replier, pb, method, path, body=None):
    return replier.stub.Passthrough(pb.PassthroughRequest(
        broker="orion", method=method, path=path,
        headers={"Content-Type": "application/json"} if body else {},
        body=json.dumps(body) if body else ""), timeout=10)


def _calls(sim, method, path):
    return [r for r in sim.requests() if r["method"] == method and r["path"] == path]


def test_passthrough_post_is_not_retried_after_a_5xx(replier, sim, pb):
    # A 503 may come after the broker applied the POST: sending it again could
    # append twice, so the broker's answer goes back as is.
    sim.add_fault({"status": 503, "count": 1, "method": "POST",
                   "path_prefix": "/v2/entities"})
    answer = _passthrough(replier, pb, "POST", "/v2/entities",
                          {"id": "PT1", "type": "T", "A": {"value": 1}})
    assert answer.status == 503
    assert len(_calls(sim, "POST", "/v2/entities")) == 1


def test_passthrough_idempotent_calls_are_retried_through_5xx(replier, sim, pb):
    _passthrough(replier, pb, "POST", "/v2/entities",
                 {"id": "PT2", "type": "T", "A": {"value": 1}})
    sim.add_fault({"status": 503, "count": 2, "path_prefix": "/v2/entities/PT2"})
    patched = _passthrough(replier, pb, "PATCH", "/v2/entities/PT2/attrs",
                           {"A": {"value": 2}})
    assert patched.status == 204
    assert len(_calls(sim, "PATCH", "/v2/entities/PT2/attrs")) == 3
    got = _passthrough(replier, pb, "GET", "/v2/entities/PT2")
    assert got.status == 200 and json.loads(got.body)["A"]["value"] == 2
