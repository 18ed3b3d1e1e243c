"""Setup hook: generates ngsi_bridge/v1 stubs from ../../proto at build time.

Everything else is in pyproject.toml. The stubs are generated into the source
tree (so `pip install -e .` works) and copied into the build like any module.
"""
import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _stubs_module():
    spec = importlib.util.spec_from_file_location("_ngsi_bridge_stubs", HERE / "ngsi_bridge" / "_stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithStubs(build_py):
    """build_py that first brings ngsi_bridge/v1 up to date with proto/."""

    def run(self):
        stubs = _stubs_module()
        stubs.ensure(HERE / "ngsi_bridge" / "v1")
        # find_packages ran before the stubs existed on a fresh checkout
        if "ngsi_bridge.v1" not in (self.packages or []):
            self.packages = [*(self.packages or []), "ngsi_bridge.v1"]
        super().run()


setup(cmdclass={"build_py": BuildPyWithStubs})
