"""`throttling` and `expires` between the real ngsi-receiver and the broker
simulator, which echoes them as Orion (expires with ".000Z", throttling only
above 0) and Orion-LD (expiresAt) do: declared values cause no drift pass
after pass, and values someone else set at the broker are put back."""
from __future__ import annotations

import pytest

from tests.e2e.receiver_support import wait_for
from tests.e2e.subscriptions_support import (LD, V2, all_active, call, ours, reconcile_passes,
                                             reconciling_receiver, subscription_writes)
from tests.testing.broker_sim.harness import RunningBrokerSim

SUBS_YAML = """
defaults:
  broker: {broker}
  service: smartcity
subscriptions:
  - name: rooms
    service_path: /madrid
    entities: [{{idPattern: "Room.*", type: Room}}]
    notified_attrs: [temperature]
    throttling: 5
  - name: parking
    flavor: ld
    entities: [{{type: OffStreetParking}}]
    throttling: 2
    expires: "2050-04-05T14:00:00Z"
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


def test_declared_throttling_and_expiry_are_not_drift(sim, receiver):
    wait_for(lambda: all_active(receiver))
    rooms = ours(sim, "rooms", "v2", V2)
    assert rooms["throttling"] == 5
    assert "expires" not in rooms
    parking = ours(sim, "parking", "ld", LD)
    assert parking["throttling"] == 2
    assert parking["expiresAt"] == "2050-04-05T14:00:00.000Z"
    done = reconcile_passes(receiver)
    wait_for(lambda: reconcile_passes(receiver) >= done + 1)  # a pass after the create
    sim.admin("DELETE", "/__sim/requests")
    done = reconcile_passes(receiver)
    wait_for(lambda: reconcile_passes(receiver) >= done + 3)
    assert subscription_writes(sim) == []
    assert not any('"subscription updated"' in line
                   for line in receiver.stderr_lines())


def test_puts_back_throttling_and_clears_an_expiry_nobody_declared(sim, receiver):
    wait_for(lambda: all_active(receiver))
    rooms = ours(sim, "rooms", "v2", V2)
    parking = ours(sim, "parking", "ld", LD)
    # Someone else: a past expiry (Orion then says "expired") and another
    # throttling on rooms; no throttling and another expiry on parking.
    status, _, _ = call(sim, "PATCH", f"/v2/subscriptions/{rooms['id']}",
                        {"expires": "2001-01-01T00:00:00Z", "throttling": 60},
                        headers=V2)
    assert status == 204
    assert ours(sim, "rooms", "v2", V2)["status"] == "expired"
    status, _, _ = call(sim, "PATCH", f"/ngsi-ld/v1/subscriptions/{parking['id']}",
                        {"expiresAt": "2030-01-01T00:00:00Z", "throttling": None},
                        headers=LD)
    assert status == 204

    def fixed():
        v2 = ours(sim, "rooms", "v2", V2)
        ld = ours(sim, "parking", "ld", LD)
        return (v2["status"] == "active" and "expires" not in v2
                and v2.get("throttling") == 5 and ld.get("throttling") == 2
                and ld.get("expiresAt") == "2050-04-05T14:00:00.000Z")

    wait_for(fixed)
    assert ours(sim, "rooms", "v2", V2)["id"] == rooms["id"]  # patched, not replaced
    assert ours(sim, "parking", "ld", LD)["id"] == parking["id"]
    # Then quiet again.
    done = reconcile_passes(receiver)
    wait_for(lambda: reconcile_passes(receiver) >= done + 1)
    sim.admin("DELETE", "/__sim/requests")
    done = reconcile_passes(receiver)
    wait_for(lambda: reconcile_passes(receiver) >= done + 2)
    assert subscription_writes(sim) == []
