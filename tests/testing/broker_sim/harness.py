"""Start the simulator from a test: a context manager around
`scripts/broker-sim --port 0`.

    from tests.testing.broker_sim.harness import RunningBrokerSim

    with RunningBrokerSim() as sim:       # or: sim = RunningBrokerSim().start()
        requests.post(sim.url + "/v2/entities", ...)
        sim.add_fault({"status": 503, "count": 1})
        sim.flush()                       # wait until notifications are out
        log = sim.requests()                  # what the simulator received
        sim.reset()                           # empty broker again

As a pytest fixture:

    @pytest.fixture(scope="session")
    def broker():
        with RunningBrokerSim() as sim:
            yield sim

API: RunningBrokerSim(*extra_args), .start(), .stop(), .url, .port,
.admin(method, path, body=None), .reset(), .add_fault(rule),
.clear_faults(), .requests(), .flush(), .log_text().
"""
import json
import pathlib
import selectors
import subprocess
import sys
import tempfile
import urllib.request

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
SCRIPT = REPO_ROOT / "scripts" / "broker-sim"
START_TIMEOUT_S = 10


class RunningBrokerSim:
    """One simulator subprocess on 127.0.0.1 and a free port. Not
    thread-safe; use one per test session or test."""

    def __init__(self, *extra_args):
        self._extra_args = [str(a) for a in extra_args]
        self._process = None
        self._log = None
        self.port = None
        self.url = None

    def start(self):
        """Starts the process and waits for its listening line; raises
        RuntimeError if it does not come within START_TIMEOUT_S."""
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--port", "0", *self._extra_args],
            stdout=subprocess.PIPE, stderr=self._log)
        selector = selectors.DefaultSelector()
        selector.register(self._process.stdout, selectors.EVENT_READ)
        if not selector.select(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError("broker-sim did not start: " + self.log_text())
        line = self._process.stdout.readline()
        try:
            self.port = json.loads(line)["port"]
        except (ValueError, KeyError):
            self.stop()
            raise RuntimeError(f"broker-sim said {line!r}: {self.log_text()}")
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self):
        """SIGTERM, then waits (kills after 10 s). Idempotent."""
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process and self._process.stdout:
            self._process.stdout.close()

    @property
    def returncode(self):
        return self._process.poll() if self._process else None

    def log_text(self):
        """The simulator's stderr so far (JSON lines)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", errors="replace")

    def admin(self, method, path, body=None):
        """Calls the admin API; returns the parsed JSON answer or None."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def reset(self):
        self.admin("POST", "/__sim/reset")

    def add_fault(self, rule):
        self.admin("POST", "/__sim/faults", rule)

    def clear_faults(self):
        self.admin("DELETE", "/__sim/faults")

    def requests(self):
        return self.admin("GET", "/__sim/requests")

    def flush(self):
        self.admin("POST", "/__sim/flush")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
