"""scripts/broker-sim: the listening line, JSON logs, clean signal exit."""
import json
import signal
import subprocess
import sys

from tests.testing.broker_sim.harness import SCRIPT, RunningBrokerSim


def test_port_zero_prints_listening_line_first_and_serves():
    with RunningBrokerSim() as sim:
        assert sim.port > 0
        assert sim.admin("GET", "/__sim/health") == {"status": "ok"}


def test_sigterm_exits_cleanly_with_json_logs_on_stderr():
    sim = RunningBrokerSim().start()
    sim.admin("GET", "/__sim/health")
    sim.stop()
    assert sim.returncode == 0
    events = [json.loads(line)["event"] for line in
              sim.log_text().splitlines()]
    assert events[0] == "listening" and events[-1] == "stopped"


def test_sigint_exits_cleanly_and_first_line_is_compact_json():
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--port", "0"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    line = process.stdout.readline().decode()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    process.stdout.close()
    port = json.loads(line)["port"]
    assert line == f'{{"event":"listening","port":{port}}}\n'


def test_busy_port_fails_with_exit_code_1():
    with RunningBrokerSim() as sim:
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "--port", str(sim.port)],
            capture_output=True, timeout=10)
    assert result.returncode == 1
    assert b"start_failed" in result.stderr
