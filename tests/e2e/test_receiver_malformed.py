"""Malformed and unsupported input over real HTTP: every answer is the
documented one, with Content-Length and a JSON error body, and the receiver
keeps serving (a valid notification right after is accepted and streamed)."""
from __future__ import annotations

import json

import pytest

from tests.e2e.receiver_support import metric, read_events, send
from tests.testing.services import RunningService

VALID = json.dumps({"subscriptionId": "6717a1b2c3d4e5f60718293a",
                    "data": [{"id": "Room1", "type": "Room",
                              "temperature": {"type": "Number", "value": 23, "metadata": {}}}]})
V2 = {"Content-Type": "application/json; charset=utf-8", "Ngsiv2-AttrsFormat": "normalized"}
LD = {"Content-Type": "application/json", "Ngsild-Attribute-Format": "Normalized",
      "Link": '<https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld>; '
              'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'}

MAX_BODY = 65536
MAX_DEPTH = 16
MAX_ENTITIES = 3


def entities(count):
    return json.dumps({"subscriptionId": "s", "data": [
        {"id": f"E{i}", "type": "T", "A": {"type": "Number", "value": i}} for i in range(count)]})


# (id, method, headers, body, expected status, expected error name)
CASES = [
    ("bad-json", "POST", V2, b'{"data": [', 400, "BadRequest"),
    ("not-json-at-all", "POST", V2, b"hello", 400, "BadRequest"),
    ("invalid-utf8", "POST", V2, b'{"subscriptionId":"\xff\xfe","data":[]}', 400, "BadRequest"),
    ("normalized-data-not-array", "POST", V2, b'{"subscriptionId":"s","data":5}', 400, "BadRequest"),
    ("normalized-entity-not-object", "POST", V2,
     b'{"subscriptionId":"s","data":[5]}', 400, "BadRequest"),
    ("keyvalues-data-not-array", "POST",
     {**V2, "Ngsiv2-AttrsFormat": "keyValues"}, b'{"subscriptionId":"s","data":{}}', 400,
     "BadRequest"),
    ("ld-data-not-array", "POST", LD,
     b'{"id":"urn:ngsi-ld:Notification:1","type":"Notification","subscriptionId":"s",'
     b'"data":"x"}', 400, "BadRequest"),
    ("too-deep", "POST", V2,
     ('{"subscriptionId":"s","data":[{"id":"E","type":"T","A":{"type":"X","value":'
      + "[" * (MAX_DEPTH + 4) + "]" * (MAX_DEPTH + 4) + "}}]}").encode(), 400, "BadRequest"),
    ("too-many-entities", "POST", V2, entities(MAX_ENTITIES + 1).encode(), 400, "BadRequest"),
    ("oversized-body", "POST", V2, b" " * (MAX_BODY + 1) + VALID.encode(), 413,
     "RequestEntityTooLarge"),
    ("get-not-allowed", "GET", {}, b"", 405, "MethodNotAllowed"),
    ("options-not-allowed", "OPTIONS", {}, b"", 405, "MethodNotAllowed"),
]


@pytest.fixture(scope="module")
def receiver(ngsi_stubs):
    with RunningService("ngsi-receiver", f"--max_body_bytes={MAX_BODY}",
                        f"--max_json_depth={MAX_DEPTH}",
                        f"--max_entities={MAX_ENTITIES}") as service:
        yield service


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_malformed_input_gets_its_documented_answer_and_serving_continues(
        receiver, ngsi_stubs, case):
    _, method, headers, body, expected_status, expected_error = case
    port = receiver.ports["http_port"]
    status, answer_headers, answer = send(port, method, "/notify", headers, body)
    assert status == expected_status, answer
    assert int(answer_headers["content-length"]) == len(answer)
    assert answer_headers["content-type"].startswith("application/json")
    error = json.loads(answer)
    assert error["error"] == expected_error
    assert error["description"]
    if expected_status == 405:
        assert answer_headers["allow"] == "POST, PUT, PATCH, DELETE"

    # Still serving: the next valid notification is accepted and streamed.
    status, _, _ = send(port, "POST", "/notify", V2, VALID.encode())
    assert status == 204
    latest = int(metric(receiver.ports["admin_port"], 'ngsi_receiver_log_sequence{end="latest"}'))
    events = read_events(ngsi_stubs, receiver.ports["grpc_port"], latest - 1, latest)
    assert [event.entities[0].id for event in events] == ["Room1"]


def test_empty_body_is_not_malformed(receiver):
    # Orion sends an empty body for a custom notification with payload null.
    status, headers, _ = send(receiver.ports["http_port"], "POST", "/notify",
                              {"Ngsiv2-AttrsFormat": "custom"}, b"")
    assert status == 204


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_custom_notification_methods_are_accepted(receiver, method):
    status, _, _ = send(receiver.ports["http_port"], method, "/custom?step=1",
                        {"Ngsiv2-AttrsFormat": "custom", "Content-Type": "text/plain"},
                        b"some text")
    assert status == 204


def test_rejected_notifications_take_no_sequence(receiver, ngsi_stubs):
    port = receiver.ports["http_port"]
    admin = receiver.ports["admin_port"]
    before = int(metric(admin, 'ngsi_receiver_log_sequence{end="latest"}'))
    assert send(port, "POST", "/notify", V2, b"{")[0] == 400
    assert send(port, "POST", "/notify", V2, VALID.encode())[0] == 204
    events = read_events(ngsi_stubs, receiver.ports["grpc_port"], before, before + 1)
    assert [event.sequence for event in events] == [before + 1]


def test_metrics_count_notifications_by_format_and_status(receiver):
    admin = receiver.ports["admin_port"]
    assert metric(admin, 'ngsi_receiver_notifications_total{format="normalized",status="204"}') >= 1
    assert metric(admin, 'ngsi_receiver_notifications_total{format="unknown",status="400"}') >= 1
    assert metric(admin, 'ngsi_receiver_notifications_total{format="unknown",status="413"}') >= 1
    assert metric(admin, "ngsi_receiver_notification_seconds_count") >= 1
