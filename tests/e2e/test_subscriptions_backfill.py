"""Gap backfill with the real ngsi-receiver and the broker simulator: stop
the receiver, change 100 entities at the broker (its notifications fail and
the subscription stops), start the receiver again: every changed entity
arrives over gRPC as a backfill event, the subscription is re-activated, and
live notifications continue after."""
from __future__ import annotations

import json

import pytest

from tests.e2e.receiver_support import wait_for
from tests.e2e.subscriptions_support import (LD, V2, all_active, call, latest_sequence, ours, read_events,
                                             receiver_view, start_receiver)
from tests.testing.broker_sim.harness import RunningBrokerSim

SUBS_YAML = """
subscriptions:
  - name: rooms
    broker: {broker}
    service: smartcity
    service_path: /madrid
    entities: [{{idPattern: "Room.*", type: Room}}]
    notified_attrs: [temperature]
  - name: sensors
    broker: {broker}
    flavor: ld
    service: smartcity
    entities: [{{type: Sensor}}]
"""
ROOMS = 100
SENSORS = 10


def update_rooms(sim, value, count=ROOMS):
    entities = [{"id": f"Room{i}", "type": "Room",
                 "temperature": {"type": "Number", "value": value + i}}
                for i in range(count)]
    status, _, body = call(sim, "POST", "/v2/op/update",
                           {"actionType": "append", "entities": entities}, headers=V2)
    assert status == 204, body


def update_sensors(sim, value):
    entities = [{"id": f"urn:ngsi-ld:Sensor:{i}", "type": "Sensor",
                 "level": {"type": "Property", "value": value + i}}
                for i in range(SENSORS)]
    status, _, body = call(sim, "POST", "/ngsi-ld/v1/entityOperations/upsert",
                           entities, headers={**LD, "Content-Type": "application/json"})
    assert status in (201, 204), body


def healthy(receiver) -> bool:
    return all_active(receiver, ("rooms", "sensors"))


@pytest.fixture
def sim():
    with RunningBrokerSim() as running:
        yield running


def test_changes_made_while_down_arrive_as_backfill_then_live(sim, tmp_path, ngsi_stubs):
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(SUBS_YAML.format(broker=sim.url))
    state = tmp_path / "state"
    state.mkdir()
    update_rooms(sim, 0)  # entities exist before the receiver ever ran
    update_sensors(sim, 0)

    first = start_receiver(subs, state, "--reconcile_interval_seconds=1")
    try:
        wait_for(lambda: healthy(first))
        # A live notification while it runs: not a backfill.
        call(sim, "POST", "/v2/entities",
             {"id": "Room0", "type": "Room", "temperature": {"value": -1, "type": "Number"}},
             headers=V2, query="options=upsert")
        sim.flush()
        wait_for(lambda: latest_sequence(first) >= 1)
        live = read_events(ngsi_stubs, first, 0, 1)
        assert not live[0].backfill
        wait_for(lambda: (state / "subscriptions-state.json").exists())
    finally:
        first.stop()
    marks = json.loads((state / "subscriptions-state.json").read_text())
    assert set(marks["subscriptions"]) == {"rooms", "sensors"}

    # Downtime: 100 rooms and 10 sensors change; deliveries fail and the
    # broker stops both subscriptions.
    update_rooms(sim, 1000)
    update_sensors(sim, 1000)
    sim.flush()
    assert ours(sim, "rooms", "v2", V2)["status"] == "failed"
    assert ours(sim, "sensors", "ld", LD)["status"] == "paused"

    second = start_receiver(subs, state, "--reconcile_interval_seconds=1")
    try:
        wait_for(lambda: latest_sequence(second) >= ROOMS + SENSORS, timeout=60)
        events = read_events(ngsi_stubs, second, 0, ROOMS + SENSORS)
        assert all(e.backfill for e in events)
        rooms = {e.entities[0].id: e for e in events if e.flavor == ngsi_stubs.ngsi_pb2.NGSI_V2}
        sensors = {e.entities[0].id: e for e in events if e.flavor == ngsi_stubs.ngsi_pb2.NGSI_LD}
        assert sorted(rooms) == sorted(f"Room{i}" for i in range(ROOMS))
        assert sorted(sensors) == sorted(f"urn:ngsi-ld:Sensor:{i}" for i in range(SENSORS))
        rooms_id = ours(sim, "rooms", "v2", V2)["id"]
        for i in range(ROOMS):
            event = rooms[f"Room{i}"]
            assert len(event.entities) == 1
            assert event.entities[0].attrs["temperature"].value.number_value == 1000 + i
            assert event.format == ngsi_stubs.ngsi_pb2.NORMALIZED
            assert event.service == "smartcity"
            assert event.service_path == "/madrid"
            assert event.subscription_id == rooms_id
        assert sensors["urn:ngsi-ld:Sensor:3"].entities[0].attrs["level"].value.number_value == 1003

        # Re-activated with the new callback port; live notifications go on.
        wait_for(lambda: healthy(second))
        assert ours(sim, "rooms", "v2", V2)["status"] == "active"
        assert ours(sim, "sensors", "ld", LD)["status"] == "active"
        view = receiver_view(second)
        assert view["rooms"]["backfilledEntities"] == ROOMS
        assert view["sensors"]["backfilledEntities"] == SENSORS
        end = latest_sequence(second)
        call(sim, "POST", "/v2/entities",
             {"id": "Room7", "type": "Room", "temperature": {"value": 7777, "type": "Number"}},
             headers=V2, query="options=upsert")
        sim.flush()
        wait_for(lambda: latest_sequence(second) >= end + 1)
        after = read_events(ngsi_stubs, second, end, end + 1)
        assert not after[0].backfill
        assert after[0].entities[0].id == "Room7"
        assert after[0].entities[0].attrs["temperature"].value.number_value == 7777
        assert any('"backfill done"' in line for line in second.stderr_lines())
    finally:
        second.stop()


def test_no_backfill_without_a_gap(sim, tmp_path, ngsi_stubs):
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(SUBS_YAML.format(broker=sim.url))
    update_rooms(sim, 0, count=5)
    receiver = start_receiver(subs, tmp_path, "--reconcile_interval_seconds=1")
    try:
        wait_for(lambda: healthy(receiver))
        # First start: nothing held before, so nothing to backfill.
        view = receiver_view(receiver)
        assert view["rooms"]["backfilledEntities"] == 0
        assert latest_sequence(receiver) == 0
    finally:
        receiver.stop()


def test_backfill_off(sim, tmp_path):
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(SUBS_YAML.format(broker=sim.url))
    first = start_receiver(subs, tmp_path)
    try:
        wait_for(lambda: healthy(first))
        wait_for(lambda: (tmp_path / "subscriptions-state.json").exists())
    finally:
        first.stop()
    update_rooms(sim, 50, count=5)
    sim.flush()
    second = start_receiver(subs, tmp_path, "--backfill=false")
    try:
        wait_for(lambda: healthy(second))
        assert latest_sequence(second) == 0
    finally:
        second.stop()
