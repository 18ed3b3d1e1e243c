"""Stub generation: from proto/ at build time and lazily from a source tree."""
import os
import subprocess
import sys
from pathlib import Path

from ngsi_bridge import _stubs

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def test_generates_into_an_empty_folder_and_detects_staleness(tmp_path):
    root = _stubs.find_proto_root()
    assert root is not None and (root / "ngsi_bridge" / "v1" / "receiver.proto").exists()
    out = tmp_path / "v1"
    assert _stubs.stubs_stale(root, out)
    _stubs.generate(root, out)
    names = {p.name for p in out.iterdir()}
    assert {"__init__.py", "ngsi_pb2.py", "receiver_pb2_grpc.py", "replier_pb2_grpc.py"} <= names
    assert not _stubs.stubs_stale(root, out)
    # Older than the newest .proto file (a checkout's protos can be days old).
    newest_proto = max(p.stat().st_mtime for p in (root / "ngsi_bridge" / "v1").glob("*.proto"))
    old = newest_proto - 60
    os.utime(out / "replier_pb2.py", (old, old))
    assert _stubs.stubs_stale(root, out)


def test_plain_pythonpath_import_regenerates_missing_stubs(tmp_path):
    # A copy of the package beside a proto/ folder: importing it generates v1/.
    import shutil
    tree = tmp_path / "repo"
    shutil.copytree(_stubs.find_proto_root(), tree / "proto")
    shutil.copytree(PACKAGE_ROOT / "ngsi_bridge", tree / "clients" / "python" / "ngsi_bridge",
                    ignore=shutil.ignore_patterns("v1", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tree / "clients" / "python")}
    env.pop("NGSI_BRIDGE_PROTO_DIR", None)
    out = subprocess.run([sys.executable, "-c",
                          "import ngsi_bridge, ngsi_bridge.v1.receiver_pb2_grpc as g; print(g.__file__)"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert str(tree) in out.stdout
