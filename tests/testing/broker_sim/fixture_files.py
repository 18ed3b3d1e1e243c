"""Where the Orion wire fixtures the simulator is held to live:
$NGSI_BRIDGE_SHARED, else ../shared next to the repository."""
import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


def shared_dir():
    return pathlib.Path(os.environ.get("NGSI_BRIDGE_SHARED",
                                       REPO_ROOT.parent / "shared"))


def fixture_files(kind):
    """Sorted paths of orion-fixtures/<kind>/*.json; [] if absent."""
    folder = shared_dir() / "orion-fixtures" / kind
    return sorted(folder.glob("*.json")) if folder.is_dir() else []
