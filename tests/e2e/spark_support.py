"""Helpers of the Spark suites (test_spark_*.py): the Python client package on
sys.path, a wait that names what it waited for, and a skip for an ngsi-replier
that does not implement an RPC yet. The `spark` and `stack_binaries` fixtures
are in conftest.py."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "clients" / "python"))

from ngsi_bridge import ReplierClient  # noqa: E402
from ngsi_bridge.errors import ReplierError  # noqa: E402


def wait_until(predicate, timeout, what, interval=0.5):
    """Polls `predicate` every `interval` seconds; AssertionError naming
    `what` when it is still false after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def require_replier(stack, *calls):
    """Calls each of `calls` with a ReplierClient of `stack`'s replier; skips
    the test when one answers UNIMPLEMENTED, raises any other error."""
    with ReplierClient(stack.replier_grpc, stack.broker_name, timeout=10) as client:
        try:
            for call in calls:
                call(client)
        except ReplierError as exc:
            if "UNIMPLEMENTED" in str(exc):
                pytest.skip(f"ngsi-replier does not implement it yet: {exc}")
            raise
