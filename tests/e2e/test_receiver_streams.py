"""ngsi-receiver as a process: gRPC resume across a reconnect, OUT_OF_RANGE
after retention, and a clean drain on SIGTERM."""
from __future__ import annotations

import json
import signal
import threading

import grpc
import pytest

from tests.e2e.receiver_support import LineReader, metric, read_events, send, wait_for
from tests.testing.services import RunningService

V2 = {"Content-Type": "application/json", "Ngsiv2-AttrsFormat": "normalized",
      "Fiware-Service": "smartcity", "Fiware-ServicePath": "/madrid"}


def body(entity_id):
    return json.dumps({"subscriptionId": "s1", "data": [
        {"id": entity_id, "type": "Room",
         "temperature": {"type": "Number", "value": 20, "metadata": {}}}]}).encode()


def post(service, entity_id):
    status, _, _ = send(service.ports["http_port"], "POST", "/notify", V2, body(entity_id))
    assert status == 204


def test_resume_after_reconnect_has_no_gap_and_no_duplicate(ngsi_stubs):
    with RunningService("ngsi-receiver") as service:
        for i in range(5):
            post(service, f"E{i}")
        first = read_events(ngsi_stubs, service.ports["grpc_port"], 0, 3)
        for i in range(5, 10):
            post(service, f"E{i}")
        second = read_events(ngsi_stubs, service.ports["grpc_port"], first[-1].sequence, 10)
        ids = [event.entities[0].id for event in first + second]
        assert ids == [f"E{i}" for i in range(10)]
        assert all(event.service == "smartcity" and event.service_path == "/madrid"
                   for event in first + second)


def test_start_before_retention_is_out_of_range_naming_earliest(ngsi_stubs):
    with RunningService("ngsi-receiver", "--log_max_events=3") as service:
        for i in range(6):
            post(service, f"E{i}")
        with pytest.raises(grpc.RpcError) as error:
            read_events(ngsi_stubs, service.ports["grpc_port"], 1, 0)
        assert error.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert "earliest retained sequence is 4" in error.value.details()
        trailing = dict(error.value.trailing_metadata() or ())
        assert trailing.get("ngsi-earliest-sequence") == "4"


def test_sigterm_drains_streams_and_line_clients_and_exits_zero(ngsi_stubs):
    service = RunningService("ngsi-receiver")
    with service:
        line = LineReader(service.ports["line_port"])
        outcome = {}

        def subscribe():
            try:
                outcome["events"] = read_events(ngsi_stubs, service.ports["grpc_port"], 0, 0)
            except grpc.RpcError as error:
                outcome["code"] = error.code()

        reader = threading.Thread(target=subscribe)
        reader.start()
        admin = service.ports["admin_port"]
        wait_for(lambda: metric(admin, 'ngsi_receiver_consumers{kind="grpc"}') == 1
                 and metric(admin, 'ngsi_receiver_consumers{kind="line"}') == 1)
        post(service, "E0")
        assert json.loads(line.read_line())["entities"][0]["id"] == "E0"
        assert service.stop(signal.SIGTERM) == 0
        reader.join(10)
        assert outcome.get("code") == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(EOFError):
            line.read_line()
        line.close()
