"""Issue 8: the durable receiver's data dir fills up: intake answers 503 with
Retry-After, nothing acknowledged is lost, and intake recovers by itself once
space returns. A read-only data dir fails the start with the reason. Runs on a tiny tmpfs
mounted by the test (needs root; skipped otherwise)."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.e2e.durability_support import (
    Sender, admin_metrics, durable_receiver, event_n, metric, notification,
    read_range, receiver_info)

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def tiny_fs(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                             str(mount_point)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def send_until(sender, start, stop_status, limit=5000, pad=1500):
    """Sends n = start, start+1, ... until an answer is `stop_status`;
    returns (acked, refused, headers of the last answer, next n)."""
    acked, refused, headers = [], [], {}
    n = start
    for n in range(start, start + limit):
        status, headers = sender.post(notification(f"E{n % 7}", n, pad))
        if status is not None and 200 <= status < 300:
            acked.append(n)
        else:
            refused.append((n, status))
        if status == stop_status:
            return acked, refused, headers, n + 1
    raise AssertionError(f"never got {stop_status} in {limit} notifications")


def test_disk_full_answers_503_and_recovers_and_read_only_refuses_to_start(ngsi_stubs, tiny_fs):
    data_dir = tiny_fs / "data"
    filler = tiny_fs / "filler"
    filler.write_bytes(b"\0" * 600_000)  # leaves ~400 KB for the log
    all_acked, all_refused = [], []
    with durable_receiver(data_dir, "--fsync=always", "--log_segment_bytes=65536",
                          "--log_max_events=50") as receiver:
        sender = Sender(receiver.ports["http_port"])
        acked, refused, headers, n = send_until(sender, 0, 503)
        all_acked += acked
        all_refused += refused
        assert len(acked) > 50
        assert headers.get("Retry-After") == "1"
        # Still full: still 503, nothing half-written in between.
        for _ in range(5):
            status, _ = sender.post(notification("E0", n, 1500))
            all_refused.append((n, status))
            n += 1
            assert status == 503
        assert metric(admin_metrics(receiver), "ngsi_receiver_disk_log_write_errors") >= 6

        # Space returns: intake recovers without a restart.
        filler.unlink()
        acked, refused, _, n = send_until(sender, n, 204, limit=1)
        all_acked += acked
        for _ in range(20):
            status, _ = sender.post(notification("E1", n, 1500))
            assert status == 204
            all_acked.append(n)
            n += 1

        sender.close()

        # Every acknowledged notification, once, in order; no refused one.
        head = receiver_info(ngsi_stubs, receiver.ports["grpc_port"]).latest_sequence
        delivered = [event_n(e) for e in
                     read_range(ngsi_stubs, receiver.ports["grpc_port"], 0, head)]
        assert delivered == all_acked

    # An unwritable data dir (read-only here; a running receiver holds its
    # segment open for writing, so the mount can only turn read-only while
    # it is stopped) fails the start, saying why, rather than the intake.
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    try:
        refused_start = durable_receiver(data_dir)
        with pytest.raises(RuntimeError, match="Read-only|not writable"):
            refused_start.start()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tiny_fs)], check=True)

    # Writable again: everything acknowledged is there, from disk.
    with durable_receiver(data_dir) as receiver:
        head = receiver_info(ngsi_stubs, receiver.ports["grpc_port"]).latest_sequence
        delivered = [event_n(e) for e in
                     read_range(ngsi_stubs, receiver.ports["grpc_port"], 0, head)]
        assert delivered == all_acked
        assert "event log tail truncated" not in receiver.stderr_text()
        status, _ = Sender(receiver.ports["http_port"]).post(notification("E4", 10**6))
        assert status == 204
