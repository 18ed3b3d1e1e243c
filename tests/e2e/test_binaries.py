"""Process-level contract of both binaries: flags, env twins, help, health,
the listening line and a clean stop on SIGTERM."""
import json
import signal
import subprocess
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.testing.services import RunningService, binary

SERVICES = ["ngsi-receiver", "ngsi-replier"]
ENV_PREFIX = {"ngsi-receiver": "NGSI_RECEIVER_", "ngsi-replier": "NGSI_REPLIER_"}


def run(name, *args, env=None):
    return subprocess.run([str(binary(name)), *args], capture_output=True, text=True,
                          timeout=20, env=env)


@pytest.mark.parametrize("name", SERVICES)
def test_bad_flag_value_exits_nonzero_naming_flag_and_value(name):
    result = run(name, "--grpc_port=notaport")
    assert result.returncode != 0
    assert "grpc_port" in result.stderr and "notaport" in result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_out_of_range_port_exits_nonzero_naming_flag_and_value(name):
    result = run(name, "--admin_port=70000")
    assert result.returncode != 0
    assert "--admin_port" in result.stderr and "70000" in result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_bad_environment_value_exits_nonzero_naming_variable(name, monkeypatch):
    import os
    env = {**os.environ, ENV_PREFIX[name] + "GRPC_PORT": "eleven"}
    result = run(name, env=env)
    assert result.returncode != 0
    assert ENV_PREFIX[name] + "GRPC_PORT" in result.stderr and "eleven" in result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_unknown_flag_is_rejected(name):
    result = run(name, "--no_such_flag=1")
    assert result.returncode != 0
    assert "no_such_flag" in result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_help_lists_flags_and_environment_twins(name):
    result = run(name, "--help")
    text = result.stdout + result.stderr
    assert "--grpc_port" in text and "--admin_port" in text
    assert ENV_PREFIX[name] + "HTTP_PORT" in text


def test_replier_rejects_malformed_broker_flag():
    result = run("ngsi-replier", "--broker=orion")
    assert result.returncode != 0
    assert "--broker 'orion'" in result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_service_starts_reports_serving_and_stops_on_sigterm(name):
    service = RunningService(name)
    with service:
        assert service.ports["event"] == "listening"
        with grpc.insecure_channel(service.address()) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        admin = service.ports["admin_port"]
        for path in ("/healthz", "/readyz", "/metrics"):
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}{path}", timeout=5) as r:
                assert r.status == 200
        assert service.stop(signal.SIGTERM) == 0
    for line in service.stderr_lines():
        json.loads(line)  # every log line is one JSON object


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", SERVICES)
def test_environment_twin_sets_a_flag_and_command_line_wins(name):
    port = free_port()
    service = RunningService(name, env={ENV_PREFIX[name] + "ADMIN_PORT": str(port)})
    service.command = [a for a in service.command if not a.startswith("--admin_port")]
    with service:
        assert service.ports["admin_port"] == port
    # Same environment, but the command line names the port: it wins.
    with RunningService(name, env={ENV_PREFIX[name] + "ADMIN_PORT": str(port)}) as service:
        assert service.ports["admin_port"] != port
