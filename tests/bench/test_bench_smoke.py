"""Smoke run of the benchmarks (bench/run --smoke) so they cannot rot.

A few seconds: the load generator against the bare cpp-httplib server, the
receiver with one gRPC subscriber and one line client, the old connector's
receiver, and the replier against the Orion-like sink next to the old
connector's write-back. Passes only when the run completes, prints its
table, and loses nothing.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.testing import services

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_completes_without_loss(tmp_path):
    build = services.build_dir()
    if not (build / "bench" / "nb_loadgen").exists():
        pytest.fail(f"{build}/bench is not built: run scripts/build")
    out = tmp_path / "smoke.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run"), "--smoke", f"--build-dir={build}",
         f"--out={out}"],
        capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    report = result.stdout + "\n--- stderr ---\n" + result.stderr[-4000:]
    assert result.returncode == 0, report
    assert "Receiver intake" in result.stdout, report
    assert "| ka-16 | 1KB | ours-grpc1 |" in result.stdout, report
    assert "| ka-16 | 1KB | ours-line1 |" in result.stdout, report
    assert "Replier: entities/s" in result.stdout, report
    assert "no loss" in result.stdout, report
    assert out.exists()
