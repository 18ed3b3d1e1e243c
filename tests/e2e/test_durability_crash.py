"""Issue 8: kill -9 the durable receiver at random moments under load, ten
times. After each restart a subscriber resuming from the last sequence it saw
gets every notification that was answered 2xx, in order, and nothing twice
(a notification answered with an error, or not at all, may appear once)."""
from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.durability_support import (
    LoadThread, admin_metrics, durable_receiver, event_n, metric, read_range,
    receiver_info)

pytestmark = [pytest.mark.e2e]

ROUNDS = 10
SENDERS = 4


def test_kill_9_under_load_loses_no_acknowledged_notification(ngsi_stubs, tmp_path):
    data_dir = tmp_path / "data"
    rng = random.Random(8)
    delivered: list[int] = []  # every n, in delivery order, over all rounds
    acked: set[int] = set()
    per_sender_acked: dict[int, list[int]] = {s: [] for s in range(SENDERS)}
    last_sequence = 0
    next_n = 0
    torn_round = ROUNDS // 2
    for round_number in range(ROUNDS):
        # Small segments and a small memory window: restarts find several
        # files, and the resuming reader is served from disk.
        receiver = durable_receiver(
            data_dir, "--fsync=group", "--fsync_group_ms=2",
            "--log_segment_bytes=65536", "--log_max_events=200")
        receiver.start()
        try:
            if round_number == torn_round + 1:
                # The garbage appended before this start was cut and reported
                # (stderr is read by a thread of its own: give it a moment).
                deadline = time.monotonic() + 10
                while ("event log tail truncated" not in receiver.stderr_text()
                       and time.monotonic() < deadline):
                    time.sleep(0.05)
                assert "event log tail truncated" in receiver.stderr_text()
                assert metric(admin_metrics(receiver),
                              "ngsi_receiver_disk_log_truncated_bytes") > 0
            # Resume: everything after what the subscriber saw before the
            # crash, up to the recovered head.
            head = receiver_info(ngsi_stubs, receiver.ports["grpc_port"]).latest_sequence
            events = read_range(ngsi_stubs, receiver.ports["grpc_port"], last_sequence, head)
            assert [e.sequence for e in events] == list(range(last_sequence + 1, head + 1))
            delivered.extend(event_n(e) for e in events)
            last_sequence = head

            senders = []
            for s in range(SENDERS):
                # Sender s owns the numbers = s (mod SENDERS): one thread
                # sends them in increasing order, each after the last answer.
                start = next_n + s
                numbers = range(start, start + 100000 * SENDERS, SENDERS)
                sender = LoadThread(receiver.ports["http_port"], f"s{s}", numbers)
                sender.index = s
                senders.append(sender)
                sender.start()
            time.sleep(rng.uniform(0.3, 1.2))
            receiver.process.send_signal(signal.SIGKILL)
            receiver.process.wait(10)
            for sender in senders:
                sender.stop()
                acked.update(sender.acked)
                per_sender_acked[sender.index].extend(sender.acked)
            assert sum(len(s.acked) for s in senders) > 0, "no load reached the receiver"
            attempted = [n for s in senders for n in s.acked + s.refused]
            next_n = (max(attempted, default=next_n) // SENDERS + 1) * SENDERS
            if round_number == torn_round:
                # What a crash in the middle of a write leaves: a torn record.
                segments = sorted(Path(data_dir).glob("*.seg"))
                with open(segments[-1], "ab") as tail:
                    tail.write(b"\x40\x00\x00\x00\x12\x34")
        finally:
            receiver.stop()

    # A last start: whatever the tenth crash left is delivered too.
    with durable_receiver(data_dir) as receiver:
        head = receiver_info(ngsi_stubs, receiver.ports["grpc_port"]).latest_sequence
        events = read_range(ngsi_stubs, receiver.ports["grpc_port"], last_sequence, head)
        assert [e.sequence for e in events] == list(range(last_sequence + 1, head + 1))
        delivered.extend(event_n(e) for e in events)
        # The whole history is still readable from the start, in order.
        everything = read_range(ngsi_stubs, receiver.ports["grpc_port"], 0, head)
        assert [event_n(e) for e in everything] == delivered

    assert len(delivered) == len(set(delivered)), "a notification was delivered twice"
    missing = acked - set(delivered)
    assert not missing, f"{len(missing)} acknowledged notifications lost: {sorted(missing)[:10]}"
    position = {n: i for i, n in enumerate(delivered)}
    for s, numbers in per_sender_acked.items():
        order = [position[n] for n in numbers]
        assert order == sorted(order), f"sender {s}: acknowledged notifications out of order"
    assert len(acked) > 100
    print(f"rounds={ROUNDS} acked={len(acked)} delivered={len(delivered)}")
