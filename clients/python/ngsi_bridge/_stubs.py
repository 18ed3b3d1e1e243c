"""Generates the gRPC/protobuf stubs in ``ngsi_bridge/v1/`` from ``proto/``.

The stubs are never committed. They are produced by the setup hook when the
package is built or installed (``pip install [-e] clients/python``) and, when
the package runs straight from the source tree (``PYTHONPATH=clients/python``),
lazily on first import if they are missing or older than a ``.proto`` file.

Standard library only at module level (``setup.py`` loads this file by path),
``grpc_tools`` is imported only when generation is needed. Safe to call from
several processes at once (Spark executors): generation holds a file lock and
moves finished files into place atomically.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
STUB_DIR = PACKAGE_DIR / "v1"
PROTO_NAMES = ("ngsi", "receiver", "replier")


def find_proto_root(start: Path = PACKAGE_DIR) -> Path | None:
    """The folder holding ``ngsi_bridge/v1/*.proto`` (the repository's ``proto/``).

    ``NGSI_BRIDGE_PROTO_DIR`` overrides the search; otherwise the parents of
    ``start`` are searched for ``proto/ngsi_bridge/v1/ngsi.proto``. None when
    not found (an installed package: its stubs were generated at build time).
    """
    override = os.environ.get("NGSI_BRIDGE_PROTO_DIR")
    if override:
        return Path(override)
    for parent in [start, *start.parents]:
        candidate = parent / "proto"
        if (candidate / "ngsi_bridge" / "v1" / "ngsi.proto").is_file():
            return candidate
    return None


def _expected(out_dir: Path) -> list[Path]:
    files = [out_dir / "__init__.py"]
    for name in PROTO_NAMES:
        files += [out_dir / f"{name}_pb2.py", out_dir / f"{name}_pb2_grpc.py"]
    return files


def stubs_stale(proto_root: Path, out_dir: Path = STUB_DIR) -> bool:
    """True when a stub is missing or older than any ``.proto`` under ``proto_root``."""
    protos = sorted((proto_root / "ngsi_bridge" / "v1").glob("*.proto"))
    newest = max((p.stat().st_mtime for p in protos), default=0.0)
    for path in _expected(out_dir):
        if not path.exists() or path.stat().st_mtime < newest:
            return True
    return False


def generate(proto_root: Path, out_dir: Path = STUB_DIR) -> None:
    """Runs protoc (from grpcio-tools) on every ``.proto`` into ``out_dir``.

    Raises RuntimeError naming the fix when grpcio-tools is missing or protoc
    fails. Blocks while another process generates the same stubs.
    """
    try:
        from grpc_tools import protoc  # type: ignore[import-untyped]
        import grpc_tools
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "ngsi_bridge stubs are missing and grpcio-tools is not installed: "
            "run `python3 -m pip install grpcio-tools` (or scripts/install-deps)") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir / ".generate.lock"
    with open(lock_path, "w") as lock:
        try:
            import fcntl
            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows
            pass
        if not stubs_stale(proto_root, out_dir):
            return  # another process finished while we waited
        protos = sorted((proto_root / "ngsi_bridge" / "v1").glob("*.proto"))
        include = Path(grpc_tools.__file__).parent / "_proto"
        with tempfile.TemporaryDirectory(dir=out_dir.parent) as tmp:
            args = ["grpc_tools.protoc", f"-I{proto_root}", f"-I{include}",
                    f"--python_out={tmp}", f"--grpc_python_out={tmp}", f"--pyi_out={tmp}",
                    *[str(p) for p in protos]]
            if protoc.main(args) != 0:
                raise RuntimeError(f"protoc failed on {proto_root}: see the messages above")
            produced = Path(tmp) / "ngsi_bridge" / "v1"
            (produced / "__init__.py").write_text(
                '"""Generated from proto/ngsi_bridge/v1 by ngsi_bridge._stubs. Do not edit."""\n')
            for path in sorted(produced.iterdir()):
                os.replace(path, out_dir / path.name)  # atomic per file
            # __init__.py last, so its mtime marks a complete set
            os.utime(out_dir / "__init__.py")


def ensure(out_dir: Path = STUB_DIR) -> None:
    """Makes ``ngsi_bridge.v1`` importable: generates the stubs when running
    from a source tree and they are missing or stale; otherwise does nothing.

    Raises RuntimeError with the fix when the stubs are missing and no
    ``proto/`` folder can be found.
    """
    proto_root = find_proto_root()
    if proto_root is None:
        if not (out_dir / "ngsi_pb2.py").exists():
            raise RuntimeError(
                f"ngsi_bridge stubs are missing in {out_dir} and no proto/ folder was found: "
                "reinstall the package from the repository (pip install clients/python) "
                "or set NGSI_BRIDGE_PROTO_DIR to the repository's proto/ folder")
        return
    if stubs_stale(proto_root, out_dir):
        generate(proto_root, out_dir)


if __name__ == "__main__":  # python3 -m ngsi_bridge._stubs [OUT_DIR]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else STUB_DIR
    root = find_proto_root()
    if root is None:
        sys.exit("proto/ not found: set NGSI_BRIDGE_PROTO_DIR")
    if stubs_stale(root, target):
        generate(root, target)
    print(f"stubs up to date in {target}")
