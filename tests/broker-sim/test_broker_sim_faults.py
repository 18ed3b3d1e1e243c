"""Fault injection through the admin API and the --fault flag, and the
request log tests read back."""
import http.client
import json
import socket
import time

import pytest

from tests.testing.broker_sim.harness import RunningBrokerSim

ENTITY = {"id": "E1", "type": "T", "A": {"value": 1}}


def test_status_fault_answers_given_status_count_times_then_recovers(sim,
                                                                     call):
    sim.add_fault({"status": 503, "count": 2, "retry_after": 1})
    first = call("POST", "/v2/entities", ENTITY)
    second = call("GET", "/v2/entities")
    third = call("POST", "/v2/entities", ENTITY)
    assert [first[0], second[0], third[0]] == [503, 503, 201]
    assert first[1]["retry-after"] == "1"
    assert json.loads(first[2])["description"] == "injected fault"


def test_status_fault_on_ngsi_ld_answers_problem_details(sim, call):
    sim.add_fault({"status": 429, "count": 1, "path_prefix": "/ngsi-ld"})
    status, _, body = call("GET", "/ngsi-ld/v1/entities", query="type=T")
    assert status == 429
    assert json.loads(body)["type"].startswith("https://uri.etsi.org/")
    assert call("GET", "/v2/entities")[0] == 200


def test_delay_fault_delays_the_answer(sim, call):
    sim.add_fault({"delay_ms": 300, "count": 1})
    started = time.monotonic()
    assert call("GET", "/v2/entities")[0] == 200
    assert time.monotonic() - started >= 0.3


def test_drop_connection_fault_closes_without_answer(sim, call):
    sim.add_fault({"drop_connection": True, "count": 1})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        call("GET", "/v2/entities")
    assert call("GET", "/v2/entities")[0] == 200


def test_delete_faults_removes_every_rule(sim, call):
    sim.add_fault({"status": 500})
    sim.clear_faults()
    assert call("GET", "/v2/entities")[0] == 200


def test_bad_fault_rule_is_rejected_with_400(sim, call):
    assert call("POST", "/__sim/faults", {"colour": "red"})[0] == 400


def test_stop_listening_refuses_connections_then_listens_again():
    with RunningBrokerSim() as sim:
        sim.add_fault({"stop_listening_ms": 400})
        time.sleep(0.15)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", sim.port), timeout=1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", sim.port),
                                         timeout=1).close()
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        assert sim.admin("GET", "/__sim/health") == {"status": "ok"}


def test_fault_flag_applies_from_start():
    with RunningBrokerSim("--fault", '{"status": 500, "count": 1}') as sim:
        request = http.client.HTTPConnection("127.0.0.1", sim.port)
        request.request("GET", "/v2/entities")
        assert request.getresponse().status == 500


def test_request_log_records_requests_and_can_be_cleared(sim, call):
    call("POST", "/v2/entities", ENTITY, {"Fiware-Service": "logged"})
    log = sim.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/v2/entities", 201)]
    assert json.loads(log[0]["body"]) == ENTITY
    assert log[0]["headers"]["Fiware-Service"] == "logged"
    sim.admin("DELETE", "/__sim/requests")
    assert sim.requests() == []


def test_reset_empties_entities_subscriptions_and_faults(sim, call):
    call("POST", "/v2/entities", ENTITY)
    sim.add_fault({"status": 500, "path_prefix": "/v2/subscriptions"})
    sim.reset()
    assert json.loads(call("GET", "/v2/entities")[2]) == []
    assert call("GET", "/v2/subscriptions")[0] == 200
