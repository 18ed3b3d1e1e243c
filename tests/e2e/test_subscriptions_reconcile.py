"""The real ngsi-receiver keeps the subscriptions of --subscriptions_file
healthy at the broker simulator: creates them, fixes drifted ones,
re-activates paused / inactive ones, and a pass over a broker that already
matches changes nothing."""
from __future__ import annotations

import pytest

from tests.e2e.receiver_support import wait_for
from tests.e2e.subscriptions_support import (LD, V2, all_active, call, metric_value, ours,
                                             receiver_view, reconcile_passes,
                                             reconciling_receiver, start_receiver,
                                             subscription_writes)
from tests.testing.broker_sim.harness import RunningBrokerSim

SUBS_YAML = """
defaults:
  broker: {broker}
  service: smartcity
subscriptions:
  - name: rooms
    service_path: /madrid
    entities: [{{idPattern: "Room.*", type: Room}}]
    condition_attrs: [temperature]
    notified_attrs: [temperature, pressure]
    description: rooms of Madrid
  - name: parking
    flavor: ld
    entities: [{{type: OffStreetParking}}]
    notified_attrs: [availableSpotNumber]
"""


@pytest.fixture
def sim():
    with RunningBrokerSim() as running:
        yield running


@pytest.fixture
def receiver(sim, tmp_path):
    running = reconciling_receiver(sim, tmp_path, SUBS_YAML)
    yield running
    running.stop()


def test_creates_missing_subscriptions_with_the_callback_url(sim, receiver):
    wait_for(lambda: all_active(receiver))
    callback = f"http://127.0.0.1:{receiver.ports['http_port']}/notify"
    rooms = ours(sim, "rooms", "v2", V2)
    assert rooms["description"] == "[ngsi-bridge:rooms] rooms of Madrid"
    assert rooms["notification"]["http"]["url"] == callback
    assert rooms["notification"]["attrs"] == ["temperature", "pressure"]
    assert rooms["subject"]["entities"] == [{"idPattern": "Room.*", "type": "Room"}]
    parking = ours(sim, "parking", "ld", LD)
    assert parking["notification"]["endpoint"]["uri"] == callback
    assert parking["entities"] == [{"type": "OffStreetParking"}]
    view = receiver_view(receiver)
    assert view["rooms"]["id"] == rooms["id"]
    assert view["parking"]["lastAction"] in ("created", "unchanged")
    assert any('"subscription created"' in line for line in receiver.stderr_lines())


def test_running_again_changes_nothing(sim, receiver):
    wait_for(lambda: all_active(receiver))
    done = reconcile_passes(receiver)
    wait_for(lambda: reconcile_passes(receiver) >= done + 1)  # a pass after the create
    sim.admin("DELETE", "/__sim/requests")
    done = reconcile_passes(receiver)
    wait_for(lambda: reconcile_passes(receiver) >= done + 3)
    assert subscription_writes(sim) == []
    # Listing happened: the passes did look.
    assert any(r["method"] == "GET" and r["path"] == "/v2/subscriptions"
               for r in sim.requests())
    assert len([s for s in call(sim, "GET", "/v2/subscriptions", headers=V2)[2]]) == 1


def test_fixes_drifted_subscription(sim, receiver):
    wait_for(lambda: all_active(receiver))
    rooms = ours(sim, "rooms", "v2", V2)
    status, _, _ = call(sim, "PATCH", f"/v2/subscriptions/{rooms['id']}", {
        "notification": {"http": {"url": "http://127.0.0.1:1/elsewhere"},
                         "attrs": ["humidity"], "attrsFormat": "keyValues"}},
        headers=V2)
    assert status == 204

    def fixed():
        now = ours(sim, "rooms", "v2", V2)["notification"]
        return (now["attrs"] == ["temperature", "pressure"]
                and now["attrsFormat"] == "normalized"
                and now["http"]["url"].endswith(f":{receiver.ports['http_port']}/notify"))

    wait_for(fixed)
    assert ours(sim, "rooms", "v2", V2)["id"] == rooms["id"]  # patched, not replaced
    assert any('"subscription updated"' in line and "notification.attrs" in line
               for line in receiver.stderr_lines())


def test_reactivates_paused_and_inactive(sim, receiver):
    wait_for(lambda: all_active(receiver))
    rooms = ours(sim, "rooms", "v2", V2)
    parking = ours(sim, "parking", "ld", LD)
    call(sim, "PATCH", f"/v2/subscriptions/{rooms['id']}", {"status": "inactive"},
         headers=V2)
    call(sim, "PATCH", f"/ngsi-ld/v1/subscriptions/{parking['id']}",
         {"isActive": False}, headers=LD)
    assert ours(sim, "parking", "ld", LD)["status"] == "paused"
    wait_for(lambda: ours(sim, "rooms", "v2", V2)["status"] == "active"
             and ours(sim, "parking", "ld", LD)["status"] == "active")
    lines = [line for line in receiver.stderr_lines()
             if '"subscription reactivated"' in line]
    assert any('"previous_status":"inactive"' in line for line in lines)
    assert any('"previous_status":"paused"' in line for line in lines)
    changes = 'ngsi_receiver_subscription_changes_total{action="reactivated"}'
    assert metric_value(receiver, changes) >= 2


def test_status_on_metrics_and_admin_endpoint(sim, receiver):
    wait_for(lambda: all_active(receiver))
    assert metric_value(
        receiver,
        'ngsi_receiver_subscription_status{subscription="rooms",status="active"}') == 1
    # A live notification shows in the broker's counters, then in ours.
    call(sim, "POST", "/v2/entities",
         {"id": "Room1", "type": "Room", "temperature": {"value": 21, "type": "Number"}},
         headers=V2, query="options=upsert")
    sim.flush()
    wait_for(lambda: receiver_view(receiver)["rooms"]["timesSent"] >= 1)
    assert receiver_view(receiver)["rooms"]["lastSuccess"]
    assert metric_value(
        receiver, 'ngsi_receiver_subscription_times_sent{subscription="rooms"}') >= 1


def test_prunes_ours_that_left_the_file_only_when_asked(sim, tmp_path):
    # Pruning covers the brokers, flavors and tenants the file still names.
    subs = tmp_path / "subscriptions.yaml"
    with_lobby = SUBS_YAML.format(broker=sim.url) + """
  - name: lobby
    service_path: /madrid
    entities: [{id: Lobby1, type: Room}]
"""
    subs.write_text(with_lobby)
    first = start_receiver(subs, tmp_path)
    try:
        wait_for(lambda: all_active(first) and receiver_view(first)["lobby"]["id"])
    finally:
        first.stop()
    subs.write_text(SUBS_YAML.format(broker=sim.url))
    kept = start_receiver(subs, tmp_path)
    try:
        wait_for(lambda: all_active(kept))
        assert ours(sim, "lobby", "v2", V2) is not None
        assert "lobby" not in receiver_view(kept)
    finally:
        kept.stop()
    pruning = start_receiver(subs, tmp_path, "--prune_subscriptions")
    try:
        wait_for(lambda: ours(sim, "lobby", "v2", V2) is None)
        assert ours(sim, "rooms", "v2", V2) is not None
        assert any('"subscription deleted"' in line and "left the file" in line
                   for line in pruning.stderr_lines())
    finally:
        pruning.stop()
    # The only NGSI-LD subscription leaves the file: the state file remembers
    # where it lives, so it is pruned too.
    subs.write_text(SUBS_YAML.format(broker=sim.url).split("  - name: parking")[0])
    pruning = start_receiver(subs, tmp_path, "--prune_subscriptions")
    try:
        wait_for(lambda: ours(sim, "parking", "ld", LD) is None)
        assert ours(sim, "rooms", "v2", V2) is not None
    finally:
        pruning.stop()


@pytest.mark.parametrize("text, error", [
    ("subscriptions: [{name: a, broker: http://b, entities: [{id: x}], attrz: [t]}]",
     "'attrz' is not a subscription key"),
    ("subscriptions: [{name: a, broker: http://b}]", "entity selector"),
])
def test_bad_subscriptions_file_stops_the_start(tmp_path, text, error):
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(text)
    with pytest.raises(RuntimeError) as failed:
        start_receiver(subs, tmp_path)
    assert error in str(failed.value)


def test_callback_url_is_required(tmp_path):
    from tests.testing.services import RunningService
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text("subscriptions: [{name: a, broker: http://b, entities: [{id: x}]}]")
    service = RunningService("ngsi-receiver", f"--subscriptions_file={subs}")
    with pytest.raises(RuntimeError) as failed:
        service.start()
    assert "--callback_url is not set" in str(failed.value)
