"""Starts ngsi-bridge's own binaries for Python tests.

`RunningService` launches `ngsi-receiver` or `ngsi-replier` with port 0
everywhere, reads the `{"event":"listening",...}` line to learn the ports it
really bound, and stops it with SIGTERM (then SIGKILL) on exit.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    return Path(os.environ.get("NGSI_BRIDGE_BUILD_DIR", REPO_ROOT / "build"))


def shared_dir() -> Path:
    return Path(os.environ.get("NGSI_BRIDGE_SHARED", REPO_ROOT.parent / "shared"))


def binary(name: str) -> Path:
    """Path of `ngsi-receiver` / `ngsi-replier` in the build tree."""
    folder = {"ngsi-receiver": "receiver-service", "ngsi-replier": "replier-service"}[name]
    path = build_dir() / folder / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is not built: run scripts/test or cmake --build build")
    return path


class RunningService:
    """A service process; use as a context manager.

    `ports` holds the listening line (for example ports["grpc_port"]);
    `stderr_lines()` returns the JSON log lines captured so far.
    """

    def __init__(self, name: str, *args: str, env: dict | None = None, timeout: float = 20):
        defaults = {
            "ngsi-receiver": ["--host=127.0.0.1", "--http_port=0", "--grpc_port=0",
                              "--admin_port=0", "--line_port=0"],
            "ngsi-replier": ["--host=127.0.0.1", "--grpc_port=0", "--admin_port=0"],
        }[name]
        self.name = name
        self.command = [str(binary(name)), *defaults, *args]
        self.env = {**os.environ, **(env or {})}
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.ports: dict = {}
        self._stderr: list[str] = []

    def __enter__(self) -> "RunningService":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=self.env)
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        line_ready = threading.Event()
        first: list[str] = []

        def read_first_line() -> None:
            first.append(self.process.stdout.readline())
            line_ready.set()

        threading.Thread(target=read_first_line, daemon=True).start()
        if not line_ready.wait(self.timeout) or not first[0]:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {self.stderr_text()}")
        self.ports = json.loads(first[0])
        threading.Thread(target=self._drain_stdout, daemon=True).start()

    def _drain_stdout(self) -> None:
        for _ in self.process.stdout:
            pass

    def _drain_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr.append(line)

    def stderr_lines(self) -> list[str]:
        return list(self._stderr)

    def stderr_text(self) -> str:
        return "".join(self._stderr)

    def address(self, port_key: str = "grpc_port") -> str:
        return f"127.0.0.1:{self.ports[port_key]}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # stderr is read on a thread: let it reach the end, so that what the
        # process logged last (say, why it would not start) is in
        # stderr_lines() and in the error start() raises.
        self._stderr_thread.join(5)
        return self.process.returncode
