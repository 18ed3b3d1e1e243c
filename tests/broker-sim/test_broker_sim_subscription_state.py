"""Subscription delivery state as the brokers report it, and the pause
after three consecutive failed deliveries."""
import json
import socket


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _v2_subscription(call, url):
    status, headers, _ = call("POST", "/v2/subscriptions", {
        "subject": {"entities": [{"idPattern": ".*"}]},
        "notification": {"http": {"url": url}}})
    assert status == 201
    return headers["location"]


def _ld_subscription(call, url):
    status, headers, _ = call("POST", "/ngsi-ld/v1/subscriptions", {
        "id": "urn:S1", "type": "Subscription", "entities": [{"type": "T"}],
        "notification": {"endpoint": {"uri": url}}})
    assert status == 201
    return headers["location"]


def _v2_update(call, value):
    call("POST", "/v2/entities",
         {"id": "E", "type": "T", "A": {"value": value}},
         query="options=upsert")


def _ld_update(call, value):
    call("POST", "/ngsi-ld/v1/entityOperations/upsert",
         [{"id": "urn:E", "type": "T", "P": {"type": "Property",
                                            "value": value}}])


def test_v2_subscription_reports_times_sent_and_last_success(sim, call,
                                                             receiver):
    location = _v2_subscription(call, receiver.url + "/notify")
    _v2_update(call, 1)
    _v2_update(call, 2)
    sim.flush()
    sub = json.loads(call("GET", location)[2])
    assert sub["status"] == "active"
    assert sub["notification"]["timesSent"] == 2
    assert sub["notification"]["lastSuccessCode"] == 200
    assert sub["notification"]["failsCounter"] == 0
    assert "lastSuccess" in sub["notification"]
    correlators = [dict(r["headers"])["Fiware-Correlator"]
                   for r in receiver.wait_for(2)]
    assert all(c.endswith("; cbnotif=1") for c in correlators)


def test_v2_counts_an_error_answer_as_delivered(sim, call, receiver):
    receiver.status = 500
    location = _v2_subscription(call, receiver.url + "/notify")
    _v2_update(call, 1)
    sim.flush()
    sub = json.loads(call("GET", location)[2])
    assert sub["status"] == "active"
    assert sub["notification"]["lastSuccessCode"] == 500


def test_v2_subscription_fails_and_stops_after_three_unreachable_deliveries(
        sim, call):
    location = _v2_subscription(call, f"http://127.0.0.1:{_free_port()}/n")
    for value in range(5):
        _v2_update(call, value)
    sim.flush()
    sub = json.loads(call("GET", location)[2])
    assert sub["status"] == "failed"
    assert sub["notification"]["timesSent"] == 3
    assert sub["notification"]["failsCounter"] == 3
    assert "lastFailure" in sub["notification"]
    assert "lastFailureReason" in sub["notification"]


def test_ld_subscription_pauses_after_three_non_2xx_answers(sim, call,
                                                            receiver):
    receiver.status = 500
    location = _ld_subscription(call, receiver.url + "/notify")
    for value in range(5):
        _ld_update(call, value)
    sim.flush()
    assert len(receiver.received) == 3
    sub = json.loads(call("GET", location)[2])
    assert sub["status"] == "paused"
    assert sub["isActive"] is False
    assert sub["notification"]["timesSent"] == 3
    assert sub["notification"]["status"] == "failed"


def test_paused_ld_subscription_resumes_when_patched_active(sim, call,
                                                            receiver):
    receiver.status = 500
    location = _ld_subscription(call, receiver.url + "/notify")
    for value in range(3):
        _ld_update(call, value)
    sim.flush()
    receiver.status = 200
    assert call("PATCH", location, {"isActive": True})[0] == 204
    _ld_update(call, 9)
    sim.flush()
    assert len(receiver.received) == 4
    sub = json.loads(call("GET", location)[2])
    assert sub["status"] == "active"
    assert sub["notification"]["status"] == "ok"


def test_subscriptions_are_listed_and_deleted(sim, call, receiver):
    location = _v2_subscription(call, receiver.url + "/notify")
    assert len(json.loads(call("GET", "/v2/subscriptions")[2])) == 1
    assert call("DELETE", location)[0] == 204
    assert call("GET", location)[0] == 404
    ld_location = _ld_subscription(call, receiver.url + "/notify")
    assert call("DELETE", ld_location)[0] == 204
    assert json.loads(call("GET", "/ngsi-ld/v1/subscriptions")[2]) == []


def test_update_without_change_does_not_notify_by_default(sim, call,
                                                          receiver):
    _v2_update(call, 1)
    _v2_subscription(call, receiver.url + "/notify")
    _v2_update(call, 1)
    _v2_update(call, 2)
    sim.flush()
    assert len(receiver.received) == 1
