"""A Spark standalone cluster on loopback, from the pip distribution.

    with LocalStandaloneCluster(workers=2) as cluster:
        spark = SparkSession.builder.master(cluster.master_url).getOrCreate()

Starts ``spark-class org.apache.spark.deploy.master.Master`` and N
``...deploy.worker.Worker`` processes bound to 127.0.0.1 with free ports,
waits until every worker has registered, and stops them all (SIGTERM, then
SIGKILL) on exit. Small by default: 1 core and 512 MiB per worker, 256 MiB
daemon heaps. Not thread-safe; one owner.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional


def spark_home() -> Path:
    """SPARK_HOME, or the pyspark package folder (which holds bin/ and jars/)."""
    if os.environ.get("SPARK_HOME"):
        return Path(os.environ["SPARK_HOME"])
    import pyspark
    return Path(pyspark.__file__).resolve().parent


class _Daemon:
    def __init__(self, name: str, command: list[str], env: dict):
        self.name = name
        self.lines: list[str] = []
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env, start_new_session=True)
        self._cond = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} did not log {pattern!r} within {timeout:.0f}s "
                                       f"(exit {self.process.poll()}):\n" + "".join(self.lines[-30:]))
                self._cond.wait(min(left, 0.5))

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class LocalStandaloneCluster:
    """One master and ``workers`` workers on 127.0.0.1 (see the module docstring).

    ``master_url`` is ``spark://127.0.0.1:PORT`` once started. ``env`` entries
    are added to every daemon's environment (executors inherit them, e.g.
    PYTHONPATH).
    """

    def __init__(self, workers: int = 2, worker_cores: int = 1, worker_memory: str = "512m",
                 daemon_memory: str = "256m", env: Optional[dict] = None,
                 start_timeout: float = 90.0):
        self.workers = workers
        self.worker_cores = worker_cores
        self.worker_memory = worker_memory
        self.start_timeout = start_timeout
        self.work_dir = Path(tempfile.mkdtemp(prefix="ngsi-spark-"))
        self.env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": daemon_memory,
                    "SPARK_LOG_DIR": str(self.work_dir / "logs"), "SPARK_NO_DAEMONIZE": "1",
                    "SPARK_WORKER_DIR": str(self.work_dir / "work"), **(env or {})}
        self.master_url = ""
        self._daemons: list[_Daemon] = []

    def _spark_class(self) -> str:
        return str(spark_home() / "bin" / "spark-class")

    def start(self) -> "LocalStandaloneCluster":
        """Starts the master and the workers; blocks until all workers registered.
        Raises RuntimeError with the daemon's last log lines on failure."""
        try:
            master = _Daemon("spark master", [self._spark_class(), "org.apache.spark.deploy.master.Master",
                                              "--host", "127.0.0.1", "--port", "0",
                                              "--webui-port", "0"], self.env)
            self._daemons.append(master)
            match = master.wait_for(r"Starting Spark master at (spark://[\d.]+:\d+)", self.start_timeout)
            self.master_url = match.group(1)
            for i in range(self.workers):
                worker = _Daemon(f"spark worker {i}", [
                    self._spark_class(), "org.apache.spark.deploy.worker.Worker",
                    "--host", "127.0.0.1", "--port", "0", "--webui-port", "0",
                    "--cores", str(self.worker_cores), "--memory", self.worker_memory,
                    "--work-dir", str(self.work_dir / f"worker{i}"), self.master_url], self.env)
                self._daemons.append(worker)
            for worker in self._daemons[1:]:
                worker.wait_for(r"Successfully registered with master", self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def worker_logs(self) -> str:
        return "".join(line for d in self._daemons[1:] for line in d.lines)

    def stop(self) -> None:
        """Stops every daemon (workers first). Idempotent."""
        for daemon in reversed(self._daemons):
            daemon.stop()
        self._daemons.clear()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> "LocalStandaloneCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
