"""ngsi-subscribe (clients/python, console script) against the broker
simulator and a real ngsi-receiver: create from a file, list, delete, health,
as readable tables."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.receiver_support import wait_for
from tests.e2e.subscriptions_support import V2, ours, receiver_view, start_receiver
from tests.testing.broker_sim.harness import RunningBrokerSim
from tests.testing.services import REPO_ROOT

SUBS_YAML = """
defaults:
  broker: {broker}
  service: smartcity
subscriptions:
  - name: rooms
    service_path: /madrid
    entities: [{{idPattern: "Room.*", type: Room}}]
    notified_attrs: [temperature]
  - name: parking
    flavor: ld
    entities: [{{type: OffStreetParking}}]
"""
CALLBACK = "http://127.0.0.1:9/notify"


def ngsi_subscribe(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "clients" / "python"),
                                          os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "ngsi_bridge.cli", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def rows(output: str) -> list[list[str]]:
    """The table's data rows, split on runs of two or more spaces."""
    import re
    lines = output.strip().splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}, output  # the rule line
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]


@pytest.fixture
def sim():
    with RunningBrokerSim() as running:
        yield running


def test_create_list_delete(sim, tmp_path):
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(SUBS_YAML.format(broker=sim.url))

    created = ngsi_subscribe("create", "--file", str(subs), "--callback-url", CALLBACK)
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[0].split() == ["NAME", "ID", "RESULT", "BROKER"]
    assert {(r[0], r[2]) for r in rows(created.stdout)} == {("rooms", "created"),
                                                             ("parking", "created")}
    rooms = ours(sim, "rooms", "v2", V2)
    assert rooms["notification"]["http"]["url"] == CALLBACK

    again = ngsi_subscribe("create", "--file", str(subs), "--callback-url", CALLBACK)
    assert {(r[0], r[2]) for r in rows(again.stdout)} == {("rooms", "exists"),
                                                           ("parking", "exists")}

    listed = ngsi_subscribe("list", "--broker", sim.url, "--service", "smartcity",
                            "--service-path", "/madrid")
    assert listed.returncode == 0, listed.stderr
    header = listed.stdout.splitlines()[0]
    for column in ("ID", "NAME", "STATUS", "SENT", "FAILS", "LAST SUCCESS", "URL"):
        assert column in header
    [row] = rows(listed.stdout)
    assert row[0] == rooms["id"] and row[1] == "rooms" and row[2] == "active"
    assert row[-1] == CALLBACK

    ld = ngsi_subscribe("list", "--broker", sim.url, "--flavor", "ld", "--service",
                        "smartcity")
    assert [r[1] for r in rows(ld.stdout)] == ["parking"]

    deleted = ngsi_subscribe("delete", "--broker", sim.url, "--service", "smartcity",
                             "--service-path", "/madrid", "--name", "rooms")
    assert deleted.returncode == 0, deleted.stderr
    assert rows(deleted.stdout) == [[rooms["id"], "deleted"]]
    assert ours(sim, "rooms", "v2", V2) is None
    empty = ngsi_subscribe("list", "--broker", sim.url, "--service", "smartcity")
    assert rows(empty.stdout) == []


def test_list_filters_by_callback_url_and_all(sim):
    from tests.e2e.subscriptions_support import call
    call(sim, "POST", "/v2/subscriptions",
         {"description": "by hand", "subject": {"entities": [{"idPattern": ".*"}]},
          "notification": {"http": {"url": "http://receiver:8061/notify"}}})
    call(sim, "POST", "/v2/subscriptions",
         {"description": "someone else", "subject": {"entities": [{"idPattern": ".*"}]},
          "notification": {"http": {"url": "http://other:1/x"}}})
    mine = ngsi_subscribe("list", "--broker", sim.url, "--callback-url",
                          "http://receiver:8061")
    assert [r[-1] for r in rows(mine.stdout)] == ["http://receiver:8061/notify"]
    every = ngsi_subscribe("list", "--broker", sim.url, "--all")
    assert len(rows(every.stdout)) == 2


def test_health_shows_the_receivers_view(sim, tmp_path):
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(SUBS_YAML.format(broker=sim.url))
    receiver = start_receiver(subs, tmp_path)
    try:
        wait_for(lambda: all(s["status"] == "active" and s["id"]
                             for s in receiver_view(receiver).values()))
        health = ngsi_subscribe("health", "--receiver-admin",
                                f"http://127.0.0.1:{receiver.ports['admin_port']}",
                                "--strict")
        assert health.returncode == 0, health.stdout + health.stderr
        table = {r[0]: r for r in rows(health.stdout)}
        assert set(table) == {"rooms", "parking"}
        assert table["rooms"][1] == "v2" and table["rooms"][3] == "active"
        assert table["parking"][1] == "ld"
    finally:
        receiver.stop()


def test_broker_down_is_an_error_not_a_trace(tmp_path):
    result = ngsi_subscribe("list", "--broker", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert "ngsi-subscribe:" in result.stderr and "Traceback" not in result.stderr


def test_receiver_takes_over_what_the_cli_created_unchanged(sim, tmp_path):
    """The CLI renders subscriptions exactly as the receiver does: a receiver
    started on the same file finds nothing to change."""
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(SUBS_YAML.format(broker=sim.url))
    callback = f"http://127.0.0.1:{port}/notify"
    assert ngsi_subscribe("create", "--file", str(subs), "--callback-url",
                          callback).returncode == 0
    sim.admin("DELETE", "/__sim/requests")
    receiver = start_receiver(subs, tmp_path, f"--http_port={port}")
    try:
        wait_for(lambda: all(s["lastAction"] for s in receiver_view(receiver).values()))
        view = receiver_view(receiver)
        assert {n: s["lastAction"] for n, s in view.items()} == {
            "rooms": "unchanged", "parking": "unchanged"}
        assert [r for r in sim.requests()
                if "subscriptions" in r["path"] and r["method"] != "GET"] == []
    finally:
        receiver.stop()
