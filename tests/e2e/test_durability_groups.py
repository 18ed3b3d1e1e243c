"""Issue 8: a consumer group of three members sharing the receiver's stream;
one member is killed (-9) mid-stream. Every event is processed, each entity's
events arrive in order, and duplicates (at-least-once) only concern events
after the crash point (the lowest offset committed before the kill)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.e2e.durability_support import LoadThread, admin_metrics, durable_receiver

pytestmark = [pytest.mark.e2e]

MEMBER = Path(__file__).with_name("group_member.py")
EVENTS = 1500
ENTITIES = 30


def grpc_consumers(receiver) -> int:
    for line in admin_metrics(receiver).splitlines():
        if line.startswith('ngsi_receiver_consumers{kind="grpc"}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def wait_for(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(message)


def parse(path: Path, limit: int | None = None):
    """Sessions (lists of (seq, id, n)) and commits of one member's file."""
    text = path.read_text()
    if limit is not None:
        text = text[:limit]
        text = text[: text.rfind("\n") + 1]
    sessions, commits = [], []
    for line in text.splitlines():
        record = json.loads(line)
        if "session" in record:
            sessions.append([])
        elif "commit" in record:
            commits.append(record["commit"])
        else:
            sessions[-1].append((record["seq"], record["id"], record["n"]))
    return sessions, commits


def test_group_of_three_with_a_member_killed_processes_everything(ngsi_stubs, tmp_path):
    stubs_dir = Path(ngsi_stubs.receiver_pb2.__file__).resolve().parents[2]
    files = {name: tmp_path / f"{name}.jsonl" for name in ("a", "b", "c")}
    processes = {}
    with durable_receiver(tmp_path / "data", "--group_session_timeout_ms=1000") as receiver:
        try:
            for name, path in files.items():
                processes[name] = subprocess.Popen(
                    [sys.executable, str(MEMBER), str(stubs_dir), receiver.address(),
                     "g", name, str(path), "10", "0.002"])
            # All three joined (each join rebalanced the others, who came back).
            stable = []
            wait_for(lambda: stable.append(grpc_consumers(receiver) == 3) or stable[-3:] == [True] * 3,
                     30, "the three members did not join")

            sender = LoadThread(receiver.ports["http_port"], "room", range(EVENTS),
                                entities=ENTITIES)
            sender.start()
            wait_for(lambda: len(sender.acked) >= EVENTS // 3, 60, "no load")
            processes["b"].send_signal(signal.SIGKILL)
            processes["b"].wait(10)
            # Where the survivors were when b died (their files up to here).
            sizes = {name: os.path.getsize(files[name]) for name in ("a", "c")}
            sender.join(120)
            assert sorted(sender.acked) == list(range(EVENTS)), "intake refused events"

            def processed():
                seen = set()
                for name in ("a", "c"):
                    for session in parse(files[name])[0]:
                        seen.update(n for _, _, n in session)
                seen.update(n for session in parse(files["b"])[0] for _, _, n in session)
                return len(seen) == EVENTS
            wait_for(processed, 60, "not every event was processed")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
                    process.wait(10)

    deliveries = []  # (member, session index, seq, id, n)
    crash_point = None
    for name, path in files.items():
        sessions, _ = parse(path)
        limit = sizes.get(name)
        _, commits_before = parse(path, limit) if limit is not None else parse(path)
        last = commits_before[-1] if commits_before else 0
        crash_point = last if crash_point is None else min(crash_point, last)
        for index, session in enumerate(sessions):
            for seq, entity, n in session:
                deliveries.append((name, index, seq, entity, n))
            # Order per entity within a stream.
            by_entity = defaultdict(list)
            for seq, entity, n in session:
                by_entity[entity].append(n)
            for entity, ns in by_entity.items():
                assert ns == sorted(ns) and len(ns) == len(set(ns)), \
                    f"{name} session {index}: {entity} out of order"
    assert {n for *_, n in deliveries} == set(range(EVENTS))
    # One entity is on one member at a time: between two rebalances its
    # events never interleave across members (a member killed mid-stream
    # hands over from its committed offset).
    count = defaultdict(int)
    sequence_of = {}
    for _, _, seq, _, n in deliveries:
        count[n] += 1
        sequence_of[n] = seq
    duplicates = [n for n, c in count.items() if c > 1]
    assert all(sequence_of[n] > crash_point for n in duplicates), \
        f"duplicates before the crash point {crash_point}"
    # b's partitions moved: the survivors got events of b's entities after
    # the kill.
    b_entities = {entity for session in parse(files["b"])[0] for _, entity, _ in session}
    assert b_entities, "b received nothing before it was killed"
    later = {entity for name in ("a", "c") for session in parse(files[name])[0][1:]
             for _, entity, _ in session}
    assert b_entities & later
    print(f"deliveries={len(deliveries)} duplicates={len(duplicates)} "
          f"crash_point={crash_point} b_entities={len(b_entities)}")


def test_committed_offsets_survive_a_restart_and_stale_commits_are_refused(
        ngsi_stubs, tmp_path):
    import grpc

    from tests.e2e.durability_support import Sender, notification

    pb, pb_grpc = ngsi_stubs.receiver_pb2, ngsi_stubs.receiver_pb2_grpc
    data_dir = tmp_path / "data"
    with durable_receiver(data_dir) as receiver:
        with grpc.insecure_channel(receiver.address()) as channel:
            stub = pb_grpc.EventStreamStub(channel)
            call = stub.Subscribe(pb.SubscribeRequest(group="g", member="m"))
            generation = int(dict(call.initial_metadata())["ngsi-group-generation"])
            sender = Sender(receiver.ports["http_port"])
            for n in range(10):
                assert sender.post(notification(f"E{n}", n))[0] == 204
            sender.close()
            events = [next(call) for _ in range(10)]
            stub.Commit(pb.CommitRequest(group="g", member="m",
                                         sequence=events[5].sequence,
                                         generation=generation), timeout=10)
            call.cancel()
    with durable_receiver(data_dir) as receiver:
        with grpc.insecure_channel(receiver.address()) as channel:
            stub = pb_grpc.EventStreamStub(channel)
            call = stub.Subscribe(pb.SubscribeRequest(group="g", member="m"))
            generation = int(dict(call.initial_metadata())["ngsi-group-generation"])
            resumed = [next(call) for _ in range(4)]
            assert [e.sequence for e in resumed] == [e.sequence for e in events[6:]]
            try:
                stub.Commit(pb.CommitRequest(group="g", member="m", sequence=1,
                                             generation=generation + 7), timeout=10)
                raise AssertionError("a stale generation was accepted")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            call.cancel()
