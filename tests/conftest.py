"""Makes the repository root importable (`tests.testing...`) for every suite."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    # Markers used to select slow suites (`-m "not spark"`); registered so a
    # typo in one fails loudly instead of silently selecting nothing.
    config.addinivalue_line("markers", "e2e: runs the real binaries end to end")
    config.addinivalue_line("markers", "spark: starts a real PySpark job or cluster")
