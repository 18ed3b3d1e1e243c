"""scripts/runtime-files: the file list the service images are made of.

The Dockerfiles copy exactly what this script lists into debian:12-slim, so
the list must name the binary first, then every library ldd resolves except
the C runtime every Debian 12 image has, each an existing file. Checked on the
real service binaries when they are built, and always on a binary that
install-deps installs and that links gRPC's own libraries.
"""
import re
import subprocess
from pathlib import Path

import pytest

from tests.k8s.k8s_helpers import ROOT, require_tool

SCRIPT = ROOT / "scripts" / "runtime-files"
SERVICE_BINARIES = {
    "ngsi-receiver": ROOT / "build" / "receiver-service" / "ngsi-receiver",
    "ngsi-replier": ROOT / "build" / "replier-service" / "ngsi-replier",
}
# What debian:12-slim provides and the images therefore do not copy.
BASE_LIBRARY = re.compile(
    r"^(ld-linux.*|lib(c|m|pthread|dl|rt|resolv|anl|util|nsl|mvec|BrokenLocale)"
    r"\.so\..*|libstdc\+\+\.so\..*|libgcc_s\.so\..*|libz\.so\..*)$")


def runtime_files(binary):
    result = subprocess.run([str(SCRIPT), str(binary)], capture_output=True,
                            text=True, timeout=60)
    return result


def ldd_libraries(binary):
    """soname -> resolved path, for every library ldd lists with a path."""
    output = subprocess.run([require_tool("ldd"), str(binary)], capture_output=True,
                            text=True, check=True).stdout
    assert "not found" not in output, output
    return dict(re.findall(r"^\s*(\S+) => (/\S+)", output, re.M))


def check_listing(binary):
    result = runtime_files(binary)
    assert result.returncode == 0, result.stderr
    listed = [Path(line) for line in result.stdout.splitlines()]
    assert listed[0] == Path(binary).resolve()
    for path in listed:
        assert path.is_absolute() and path.is_file(), path
        # Each directory is canonical: an image layer must not turn Debian's
        # /lib -> /usr/lib symlink into a directory.
        assert path.parent == path.parent.resolve(), path
    listed_names = {p.name for p in listed[1:]}
    for soname, resolved in ldd_libraries(binary).items():
        if BASE_LIBRARY.match(soname):
            assert soname not in listed_names, f"{soname} is in the base image"
        else:
            assert soname in listed_names, f"{soname} ({resolved}) would be missing"
    return listed


@pytest.mark.parametrize("name", sorted(SERVICE_BINARIES))
def test_lists_what_the_built_service_binary_needs(name):
    binary = SERVICE_BINARIES[name]
    if not binary.exists():
        pytest.skip(f"{binary.relative_to(ROOT)} is not built "
                    "(cmake -S . -B build -G Ninja && cmake --build build)")
    listed = check_listing(binary)
    assert any(p.name.startswith("libgrpc++") for p in listed), listed


def test_lists_the_grpc_libraries_of_an_installed_binary():
    # protobuf-compiler-grpc (install-deps) ships it; it links libprotobuf
    # and libprotoc, so the listing is never trivially just the binary.
    binary = require_tool("grpc_cpp_plugin")
    listed = check_listing(binary)
    assert {"libprotobuf", "libprotoc"} <= {p.name.split(".so")[0] for p in listed}
    assert not any(p.name.startswith("libc.so") for p in listed)


def test_fails_when_a_library_cannot_be_resolved(tmp_path):
    compiler = require_tool("g++")
    (tmp_path / "gone.cc").write_text("int Gone() { return 1; }\n")
    (tmp_path / "main.cc").write_text("int Gone();\nint main() { return Gone(); }\n")
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(tmp_path / "libgone.so"),
                    str(tmp_path / "gone.cc")], check=True)
    subprocess.run([compiler, "-o", str(tmp_path / "uses-gone"), str(tmp_path / "main.cc"),
                    f"-L{tmp_path}", "-lgone"], check=True)
    (tmp_path / "libgone.so").unlink()
    result = runtime_files(tmp_path / "uses-gone")
    assert result.returncode == 1
    assert "libgone.so => not found" in result.stderr
    assert result.stdout == "", "no partial list an image build could use"


def test_rejects_a_missing_binary_and_wrong_usage(tmp_path):
    result = runtime_files(tmp_path / "nothing-here")
    assert result.returncode == 1 and "not an executable file" in result.stderr
    usage = subprocess.run([str(SCRIPT)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr
