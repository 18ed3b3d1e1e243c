"""The Java and Go clients against the real services, and a cross-language check.

One stack for the module: the broker simulator, ngsi-receiver and ngsi-replier
(configured with the simulator as broker "sim"). The receiver is fed twice:
every file of ../shared/orion-fixtures/notifications is POSTed to its HTTP
port as the broker sent it, and the simulator notifies it through a real
subscription. Then:

- clients/java runs `mvn -o -Pspark test`: its unit tests (in-process fakes),
  LiveServicesTest (subscribe, every event of the replay, resume in a new
  subscription and across cut connections, filters, write back through the
  replier and read back at the simulator), addressed via NGSI_BRIDGE_* vars,
  and the Spark examples (compiled, their row functions run on the
  receiver's own event-json lines);
- clients/go runs `go generate` (stubs) and `go test ./...`: the same;
- `ngsi-tail` prints the replay, with filters;
- the events as decoded by C++ (the receiver's event-json line listener),
  Python (grpc_tools stubs), Java and Go are equal.

Maven and Go run offline: scripts/deps.d/java-go.sh fills ~/.m2 and the Go
module cache beforehand.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.testing.broker_sim.harness import RunningBrokerSim
from tests.testing.services import REPO_ROOT, RunningService, binary, shared_dir

JAVA_DIR = REPO_ROOT / "clients" / "java"
GO_DIR = REPO_ROOT / "clients" / "go"
PROTO_DIR = REPO_ROOT / "proto"
TOOL_TIMEOUT_S = 420

for tool in ("mvn", "java", "go", "protoc"):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed: run scripts/install-deps", allow_module_level=True)


def go_env() -> dict:
    # Offline and with this machine's Go: downloads belong in install-deps.
    return {**os.environ, "GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": "-mod=readonly"}


def run(cmd: list[str], cwd: Path, env: dict, timeout: float = TOOL_TIMEOUT_S):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def must(result, what: str) -> str:
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode})\n--- stdout\n{result.stdout[-8000:]}"
        f"\n--- stderr\n{result.stderr[-4000:]}")
    return result.stdout


# --------------------------------------------------------------------------
# The stack and the replay


class LineClient:
    """Reads the receiver's event-json line listener in a thread."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.settimeout(None)
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        with self.sock.makefile("r", encoding="utf-8", newline="\n") as f:
            for line in f:
                self.lines.append(line.rstrip("\n"))

    def wait_for_lines(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.lines) >= count:
                return True
            time.sleep(0.02)
        return False

    def wait_for_sequence(self, seq: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = [json.loads(line) for line in list(self.lines) if line]
            if events and int(events[-1]["sequence"]) >= seq:
                return events
            time.sleep(0.05)
        raise AssertionError(f"line listener did not reach sequence {seq}: {self.lines[-3:]}")

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def post_fixture(http_port: int, fixture: dict) -> int:
    """POSTs one recorded notification as the broker sent it; returns the status."""
    url = urllib.parse.urlsplit(fixture.get("url") or "/notify")
    target = f"http://127.0.0.1:{http_port}{url.path or '/notify'}"
    if url.query:
        target += "?" + url.query
    if "body_raw" in fixture and fixture["body_raw"] is not None:
        data = fixture["body_raw"].encode("utf-8")
    elif fixture.get("body") is None:
        data = b""
    elif isinstance(fixture["body"], str):
        data = fixture["body"].encode("utf-8")
    else:
        data = json.dumps(fixture["body"]).encode("utf-8")
    skip = {"host", "content-length", "transfer-encoding", "connection"}
    headers = {k: v for k, v in (fixture.get("headers") or {}).items() if k.lower() not in skip}
    if "headers" not in fixture or not fixture.get("headers"):
        headers["Content-Type"] = "application/json"
    method = fixture.get("method") or "POST"
    request = urllib.request.Request(target, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


PROBE = {"url": "http://localhost/notify", "headers": {"Content-Type": "application/json"},
         "body": {"subscriptionId": "probe", "data": [
             {"id": "Probe1", "type": "Probe", "n": {"type": "Number", "value": 1, "metadata": {}}}]}}


def attach_line_client(http_port: int, lines: LineClient) -> int:
    """Posts probe notifications until the line client gets one; returns how many."""
    for probes in range(1, 51):
        assert 200 <= post_fixture(http_port, PROBE) < 300
        if lines.wait_for_lines(1, timeout=0.2):
            return probes
    raise AssertionError("the line listener never delivered a line")


def sim_call(sim, method: str, path: str, body=None, service="clients", service_path="/sim"):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        sim.url + path, data=data, method=method,
        headers={"Content-Type": "application/json", "Fiware-Service": service,
                 "Fiware-ServicePath": service_path})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def generate_python_stubs(out: Path) -> Path:
    """grpc_tools.protoc stubs in `out`, as regular packages so that they win
    over an installed ngsi_bridge package."""
    import grpc_tools
    from grpc_tools import protoc
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "ngsi_bridge" / "v1").glob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    code = protoc.main(["grpc_tools.protoc", f"-I{PROTO_DIR}", f"-I{well_known}",
                        f"--python_out={out}", f"--grpc_python_out={out}", *protos])
    assert code == 0, "grpc_tools.protoc failed"
    (out / "ngsi_bridge" / "__init__.py").touch()
    (out / "ngsi_bridge" / "v1" / "__init__.py").touch()
    return out


# Runs in a subprocess with only the generated stubs first on sys.path.
PY_DECODER = """
import json, sys
import grpc
from google.protobuf import json_format
from ngsi_bridge.v1 import receiver_pb2, receiver_pb2_grpc
address, command = sys.argv[1], sys.argv[2]
stub = receiver_pb2_grpc.EventStreamStub(grpc.insecure_channel(address))
if command == "info":
    info = stub.Info(receiver_pb2.InfoRequest(), timeout=10)
    print(json.dumps({"earliest": info.earliest_sequence, "latest": info.latest_sequence}))
else:
    request = receiver_pb2.SubscribeRequest(start=receiver_pb2.SubscribeRequest.EARLIEST,
                                            end_sequence=int(command))
    for event in stub.Subscribe(request, timeout=30):
        print(json.dumps(json_format.MessageToDict(event), sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False))
"""


class Stack:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.stubs = generate_python_stubs(tmp / "pystubs")
        (tmp / "decoder.py").write_text(PY_DECODER)
        self.run_id = "r" + uuid.uuid4().hex[:8]

    def python_decoder(self, *args: str) -> str:
        env = {**os.environ, "PYTHONPATH": str(self.stubs)}
        return must(run([sys.executable, str(self.tmp / "decoder.py"), self.receiver_grpc, *args],
                        cwd=self.tmp, env=env, timeout=60), "python decoder")

    def env(self, events_out: Path | None = None) -> dict:
        env = {
            "NGSI_BRIDGE_RECEIVER_GRPC": self.receiver_grpc,
            "NGSI_BRIDGE_RECEIVER_HTTP": f"127.0.0.1:{self.receiver.ports['http_port']}",
            "NGSI_BRIDGE_FIRST_SEQUENCE": str(self.first),
            "NGSI_BRIDGE_END_SEQUENCE": str(self.end),
            "NGSI_BRIDGE_REPLIER_GRPC": self.replier.address("grpc_port"),
            "NGSI_BRIDGE_REPLIER_BROKER": "sim",
            "NGSI_BRIDGE_BROKER_URL": self.sim.url,
            "NGSI_BRIDGE_RUN_ID": self.run_id,
            "NGSI_BRIDGE_EVENT_LINES": str(self.event_lines),
        }
        if events_out is not None:
            env["NGSI_BRIDGE_EVENTS_OUT"] = str(events_out)
        return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    try:
        binary("ngsi-receiver"), binary("ngsi-replier")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    fixtures_dir = shared_dir() / "orion-fixtures" / "notifications"
    if not fixtures_dir.is_dir():
        pytest.skip(f"{fixtures_dir} is missing")
    s = Stack(tmp_path_factory.mktemp("clients"))
    with RunningBrokerSim() as sim, RunningService("ngsi-receiver") as receiver, \
            RunningService("ngsi-replier", f"--broker=sim={sim.url},flavor=v2") as replier:
        s.sim, s.receiver, s.replier = sim, receiver, replier
        s.receiver_grpc = receiver.address("grpc_port")
        lines = LineClient(receiver.ports["line_port"])
        try:
            # The listener attaches a client asynchronously: probe notifications
            # until one comes out as a line; every later event then does too.
            s.probes = attach_line_client(receiver.ports["http_port"], lines)
            statuses = {}
            for path in sorted(fixtures_dir.glob("*.json")):
                statuses[path.name] = post_fixture(receiver.ports["http_port"],
                                                   json.loads(path.read_text()))
            accepted = sum(1 for code in statuses.values() if 200 <= code < 300)
            # The simulator notifies the receiver through a real subscription.
            http = f"http://127.0.0.1:{receiver.ports['http_port']}/notify"
            sim_call(sim, "POST", "/v2/subscriptions", {
                "subject": {"entities": [{"idPattern": ".*", "type": "Car"}]},
                "notification": {"http": {"url": http}}})
            for i in range(1, 6):
                sim_call(sim, "POST", "/v2/entities?options=upsert", {
                    "id": f"Car{i}", "type": "Car",
                    "speed": {"type": "Number", "value": 10 * i}})
            sim.flush()
            info = json.loads(s.python_decoder("info"))
            s.first, s.end = info["earliest"], info["latest"]
            s.accepted_fixtures, s.statuses = accepted, statuses
            s.cpp_events = lines.wait_for_sequence(s.end)
            s.cpp_first = int(s.cpp_events[0]["sequence"])
            s.event_lines = s.tmp / "cpp-event-json.lines"
            s.event_lines.write_text("\n".join(lines.lines) + "\n", encoding="utf-8")
        finally:
            lines.close()
        yield s


def test_replay_reached_the_receiver(stack):
    rejected = {name: code for name, code in stack.statuses.items() if not 200 <= code < 300}
    assert not rejected, f"receiver rejected {rejected}"
    # One event per probe, per fixture and per simulator notification (5 upserts).
    assert stack.first == 1
    assert stack.end == stack.probes + stack.accepted_fixtures + 5, (
        stack.end, stack.probes, stack.accepted_fixtures)
    assert stack.cpp_first <= stack.probes


# --------------------------------------------------------------------------
# Each client's own tests, unit and live


@pytest.fixture(scope="module")
def java_run(stack):
    out = stack.tmp / "java-events.jsonl"
    env = {**os.environ, **stack.env(out)}
    # One Maven run for the library, its live tests and the Spark examples
    # (profile spark builds into target-spark/).
    reports_dir = JAVA_DIR / "target-spark" / "surefire-reports"
    shutil.rmtree(reports_dir, ignore_errors=True)
    classpath = stack.tmp / "java-classpath.txt"
    result = run(["mvn", "-B", "-q", "-o", "-Pspark", "test", "dependency:build-classpath",
                  f"-Dmdep.outputFile={classpath}", "-Dmdep.includeScope=runtime"],
                 cwd=JAVA_DIR, env=env)
    stack.java_classpath = classpath
    reports = {}
    for report in reports_dir.glob("TEST-*.xml"):
        suite = ET.parse(report).getroot()
        reports[suite.get("name").rsplit(".", 1)[-1]] = {
            k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    return result, reports, out


@pytest.fixture(scope="module")
def go_run(stack):
    out = stack.tmp / "go-events.jsonl"
    must(run(["go", "generate", "./ngsibridgev1"], cwd=GO_DIR, env=go_env()), "go generate")
    env = {**go_env(), **stack.env(out)}
    result = run(["go", "test", "-count=1", "-v", "./..."], cwd=GO_DIR, env=env)
    return result, out


def test_java_client_tests_pass_against_the_services(java_run):
    result, reports, _ = java_run
    must(result, "mvn -o -Pspark test")
    for suite in ("LiveServicesTest", "SparkExamplesTest"):
        assert reports.get(suite) and reports[suite]["skipped"] == 0, reports
    assert reports["LiveServicesTest"]["tests"] >= 5, reports
    assert sum(r["tests"] for r in reports.values()) >= 22, reports


def test_go_client_tests_pass_against_the_services(go_run):
    result, _ = go_run
    output = must(result, "go test ./...")
    live = [line for line in output.splitlines() if line.startswith("--- ")]
    assert not [line for line in live if "SKIP" in line or "FAIL" in line], live
    for name in ("TestReceivesEveryEventOfTheReplay", "TestResumesAcrossBrokenConnectionsWithoutGapOrDuplicate",
                 "TestResumesAfterTheLastSequenceInANewSubscription",
                 "TestServerSideFiltersMatchTheFullStream", "TestWritesBackAndReadsBackAtTheBroker"):
        assert f"--- PASS: {name}" in output, name


def test_java_foreach_partition_example_writes_back_on_spark(stack, java_run):
    """ForeachPartitionWriterExample under spark-submit (PySpark's Spark, local
    mode): every CSV row is upserted through the replier and read back."""
    must(java_run[0], "mvn -o -Pspark test")
    pyspark = pytest.importorskip("pyspark")
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    # Spark brings its own Guava (-jre); grpc's -android one must not shadow it.
    jars = [j for j in stack.java_classpath.read_text().strip().split(":")
            if j and "/guava/" not in j]
    classes = JAVA_DIR / "target-spark" / "classes"
    rows = {f"{stack.run_id}-spark-{i}": 1.5 * i for i in range(1, 8)}
    csv = stack.tmp / "predictions.csv"
    csv.write_text("id,type,attribute,value\n"
                   + "".join(f"{k},Mix,strength,{v}\n" for k, v in rows.items()))
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_SUBMIT_ARGS": ""}
    result = run([str(spark_submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false",
                  "--class", "io.ngsibridge.examples.ForeachPartitionWriterExample",
                  "--jars", ",".join(jars), "--driver-class-path", ":".join(jars),
                  str(classes), stack.replier.address("grpc_port"), "sim", str(csv)],
                 cwd=stack.tmp, env=env, timeout=300)
    must(result, "spark-submit ForeachPartitionWriterExample")
    for entity_id, value in rows.items():
        with urllib.request.urlopen(f"{stack.sim.url}/v2/entities/{entity_id}", timeout=10) as r:
            entity = json.loads(r.read())
        assert entity["type"] == "Mix" and entity["strength"]["value"] == value, entity


# --------------------------------------------------------------------------
# ngsi-tail


@pytest.fixture(scope="module")
def ngsi_tail(stack, go_run):
    path = stack.tmp / "ngsi-tail"
    must(run(["go", "build", "-o", str(path), "./cmd/ngsi-tail"], cwd=GO_DIR, env=go_env()),
         "go build ngsi-tail")
    return path


def tail(stack, ngsi_tail, *args) -> list[str]:
    result = run([str(ngsi_tail), "--addr", stack.receiver_grpc, *args], cwd=stack.tmp,
                 env=dict(os.environ), timeout=60)
    return must(result, "ngsi-tail " + " ".join(args)).splitlines()


def test_ngsi_tail_prints_every_event_and_filters(stack, ngsi_tail):
    lines = tail(stack, ngsi_tail, "--from", "earliest", "--end", str(stack.end))
    events = [json.loads(line) for line in lines]
    assert [int(e["sequence"]) for e in events] == list(range(stack.first, stack.end + 1))
    cars = tail(stack, ngsi_tail, "--from", "earliest", "--end", str(stack.end),
                "--service", "clients", "--service-path", "/sim", "--type", "Car",
                "--id-pattern", "Car[0-9]+", "--attrs", "speed", "--format", "line")
    assert len(cars) == 5, cars
    for i, line in enumerate(cars, start=1):
        fields = line.split(" ")
        assert fields[2:7] == ["clients", "/sim", "NORMALIZED", "Car", f"Car{i}"], line
        assert fields[7:] == [f"speed={10 * i}"], line
    mid = (stack.first + stack.end) // 2
    rest = tail(stack, ngsi_tail, "--from", str(mid), "--end", str(stack.end))
    assert [int(json.loads(line)["sequence"]) for line in rest] == list(range(mid, stack.end + 1))


# --------------------------------------------------------------------------
# Cross-language: C++, Python, Java and Go decode the same events


def load_jsonl(path: Path) -> list[dict]:
    assert path.exists(), f"{path.name} was not written (see the client test above)"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def first_difference(a: list[dict], b: list[dict]) -> str:
    if len(a) != len(b):
        return f"{len(a)} events vs {len(b)}"
    for x, y in zip(a, b):
        if x != y:
            keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            return (f"sequence {x.get('sequence')}: fields {keys}: "
                    f"{ {k: x.get(k) for k in keys} } vs { {k: y.get(k) for k in keys} }")
    return ""


def test_cpp_python_java_go_decode_the_same_events(stack, java_run, go_run):
    decoded = {
        "c++ (event-json lines)": stack.cpp_events,
        "python": [json.loads(line) for line in stack.python_decoder(str(stack.end)).splitlines()],
        "java": load_jsonl(java_run[2]),
        "go": load_jsonl(go_run[1]),
    }
    assert len(decoded["python"]) == stack.end - stack.first + 1
    # The line client saw everything from its first probe on.
    in_range = {name: [e for e in events if stack.cpp_first <= int(e["sequence"]) <= stack.end]
                for name, events in decoded.items()}
    reference = in_range["python"]
    assert len(reference) == stack.end - stack.cpp_first + 1
    for name, events in in_range.items():
        assert events == reference, f"{name} differs from python: {first_difference(events, reference)}"


def test_ngsi_tail_reports_a_start_no_longer_retained(stack, ngsi_tail):
    fixtures = sorted((shared_dir() / "orion-fixtures" / "notifications").glob("*.json"))[:12]
    with RunningService("ngsi-receiver", "--log_max_events=5") as small:
        for path in fixtures:
            assert 200 <= post_fixture(small.ports["http_port"], json.loads(path.read_text())) < 300
        result = run([str(ngsi_tail), "--addr", small.address("grpc_port"), "--from", "2",
                      "--end", "12"], cwd=stack.tmp, env=dict(os.environ), timeout=60)
        assert result.returncode == 1, result
        assert "OutOfRange" in result.stderr and result.stdout == "", result.stderr
        kept = run([str(ngsi_tail), "--addr", small.address("grpc_port"), "--from", "earliest",
                    "--end", "12"], cwd=stack.tmp, env=dict(os.environ), timeout=60)
        assert [int(json.loads(line)["sequence"]) for line in must(kept, "ngsi-tail").splitlines()] \
            == list(range(8, 13))


def test_ngsi_tail_follows_live_events_and_stops_on_sigterm(stack, ngsi_tail):
    import select
    import signal
    with RunningService("ngsi-receiver") as live:
        process = subprocess.Popen(
            [str(ngsi_tail), "--addr", live.address("grpc_port"), "--from", "latest",
             "--format", "line"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def next_line(timeout: float) -> str | None:
                ready, _, _ = select.select([process.stdout], [], [], timeout)
                return process.stdout.readline() if ready else None

            # The subscription starts asynchronously: probe until one shows.
            for _ in range(50):
                assert 200 <= post_fixture(live.ports["http_port"], PROBE) < 300
                line = next_line(0.2)
                if line:
                    break
            assert line and " Probe Probe1 n=1" in line, line
            while next_line(0.2):  # probes still in flight
                pass
            room = {"headers": {"Content-Type": "application/json", "Fiware-Service": "live",
                                "Fiware-ServicePath": "/floor1"},
                    "body": {"subscriptionId": "s", "data": [
                        {"id": "Room9", "type": "Room",
                         "temperature": {"type": "Number", "value": 21.5, "metadata": {}}}]}}
            assert 200 <= post_fixture(live.ports["http_port"], room) < 300
            line = next_line(10)
            assert line and line.split(" ")[2:] == [
                "live", "/floor1", "NORMALIZED", "Room", "Room9", "temperature=21.5\n"], line
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0, process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
