"""Issue 8, replier side: the broker goes away.

- Down for 30 s (process stopped, so pooled connections go too) under a
  steady write load with a long deadline: the replier keeps retrying within
  each request's deadline, and once the broker is back every write lands,
  exactly once (creates, which a second application would refuse).
- Down longer than a short deadline: each entity fails with UNAVAILABLE (or
  DEADLINE_EXCEEDED) within the deadline, nothing is applied, the entities
  are in the dead-letter file, and scripts/replay-dead-letters writes them
  once the broker is back.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.replier_support import (
    DEADLINE_EXCEEDED, OK, UNAVAILABLE, Replier, v2_count, v2_entity, writes)
from tests.testing.broker_sim.harness import RunningBrokerSim
from tests.testing.services import REPO_ROOT

pytestmark = [pytest.mark.e2e]


def wait_until_back(sim, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sim.requests()
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise AssertionError("the broker simulator did not come back")


def applied_ids(sim, at_least):
    calls = writes(sim, "/v2/op/update", at_least=at_least)
    return [e["id"] for c in calls if (c["status"] or 999) < 300
            for e in json.loads(c["body"])["entities"]]


def test_broker_down_30s_under_steady_load_every_write_lands_once(ngsi_stubs):
    """The simulator process is stopped (its listening socket and every
    pooled keep-alive connection go) and started again on the same port 30 s
    later; its request logs of both lives show every create applied once."""
    pb = ngsi_stubs.replier_pb2
    sim = RunningBrokerSim()
    sim.start()
    port = sim.port
    second = None
    try:
        with Replier(
                ngsi_stubs, f"--broker=orion={sim.url},timeout_ms=500",
                # Retries bounded by each request's deadline, not by a count
                # or the shared budget.
                "--retry_max_attempts=1000000", "--retry_initial_backoff_ms=100",
                "--retry_max_backoff_ms=1000", "--retry_budget_tokens=1000000",
                "--worker_threads=8") as replier:
            writes_total, down_after = 160, 20
            restarted = threading.Event()

            def restart_later():
                nonlocal second
                time.sleep(30)
                second = RunningBrokerSim("--port", str(port))
                second.start()
                restarted.set()

            with ThreadPoolExecutor(max_workers=200) as pool:
                futures = []
                for i in range(writes_total):
                    if i == down_after:
                        # Everything so far answered and logged: then down.
                        for future in futures:
                            assert future.result().results[0].code == OK
                        before = applied_ids(sim, down_after)
                        sim.stop()
                        down_at = time.monotonic()
                        threading.Thread(target=restart_later, daemon=True).start()
                    futures.append(pool.submit(
                        replier.write, "orion", pb.OPERATION_CREATE,
                        [v2_entity(ngsi_stubs, f"W{i}", n=i)], timeout=120))
                    time.sleep(0.25)  # steady: 4 writes a second for 40 s
                responses = [f.result() for f in futures]
            assert restarted.is_set() and time.monotonic() - down_at >= 30
            assert [r.results[0].code for r in responses] == [OK] * writes_total
            after = applied_ids(second, writes_total - down_after)
            # Each create applied exactly once over the broker's two lives.
            assert sorted(before + after) == sorted(f"W{i}" for i in range(writes_total))
            assert v2_count(second) == writes_total - down_after
            assert 'ngsi_replier_retries_total{broker="orion"' in replier.metrics()
    finally:
        sim.stop()
        if second is not None:
            second.stop()


def test_broker_down_past_the_deadline_fails_per_entity_and_replays(ngsi_stubs, tmp_path):
    pb = ngsi_stubs.replier_pb2
    dead_letters = tmp_path / "dead-letters.jsonl"
    with RunningBrokerSim() as sim, Replier(
            ngsi_stubs, f"--broker=orion={sim.url},timeout_ms=300",
            "--retry_max_attempts=4", "--retry_initial_backoff_ms=50",
            "--retry_max_backoff_ms=200", f"--dead_letter_file={dead_letters}") as replier:
        sim.add_fault({"stop_listening_ms": 5000})
        entities = [v2_entity(ngsi_stubs, f"D{i}", n=i) for i in range(5)]
        started = time.monotonic()
        response = replier.write("orion", pb.OPERATION_UPSERT, entities, timeout=2,
                                 service="smartcity", service_path="/dl")
        took = time.monotonic() - started
        assert took < 2.5, f"answered after {took:.1f} s, past the 2 s deadline"
        assert {r.code for r in response.results} <= {UNAVAILABLE, DEADLINE_EXCEEDED}
        assert response.failed == 5
        lines = [json.loads(line) for line in dead_letters.read_text().splitlines()]
        assert [line["entity"]["id"] for line in lines] == [f"D{i}" for i in range(5)]
        for line in lines:
            assert line["broker"] == "orion" and line["op"] == "upsert"
            assert line["tenant"] == "smartcity" and line["service_path"] == "/dl"
            assert line["error"] and line["time"].endswith("Z")
            assert line["code"] in ("unavailable", "deadline_exceeded")

        wait_until_back(sim)
        tenant = {"Fiware-Service": "smartcity", "Fiware-ServicePath": "/dl"}
        assert v2_count(sim, tenant) == 0  # nothing half-applied
        replay = subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "replay-dead-letters"),
             "--replier", replier.service.address(), "--file", str(dead_letters)],
            capture_output=True, text=True, timeout=120)
        assert replay.returncode == 0, replay.stderr
        summary = json.loads(replay.stdout.strip().splitlines()[-1])
        assert summary["written"] == 5 and summary["failed"] == 0
        assert v2_count(sim, tenant) == 5
        assert (tmp_path / "dead-letters.jsonl.failed").read_text() == ""
