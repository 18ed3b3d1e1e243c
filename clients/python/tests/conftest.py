"""Fixtures for the ngsi_bridge package tests (fakes in fakes.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
for path in (PACKAGE_ROOT, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from fakes import FakeReceiver, FakeReplier, _Server  # noqa: E402
from ngsi_bridge.v1 import receiver_pb2_grpc, replier_pb2_grpc  # noqa: E402


@pytest.fixture
def fake_receiver():
    server = _Server(FakeReceiver(), receiver_pb2_grpc.add_EventStreamServicer_to_server)
    yield server
    server.stop()


@pytest.fixture
def fake_replier():
    server = _Server(FakeReplier(), replier_pb2_grpc.add_ReplierServicer_to_server)
    yield server
    server.stop()


def pytest_configure(config):
    config.addinivalue_line("markers", "spark: starts a real Spark (local or standalone cluster)")
