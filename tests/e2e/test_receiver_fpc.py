"""The `fpc` line format: what the old FIWARE PySpark Connector
(fiware-pyspark-connector 0.0.10, module fpc) sent to Spark with
request_completeness=True. For every fixture, the real fpc.connector.parse
must turn our line into the same NGSIEvent as the line the old connector
itself would have built (fpc.connector.structureNGSIRequest) from the same
notification."""
from __future__ import annotations

import contextlib
import datetime
import io
import json

import pytest

from tests.e2e.receiver_support import fixture_body_bytes
from tests.e2e.test_receiver_fixtures import FIXTURE_DIR, FIXTURE_PARAMS, replayed  # noqa: F401

connector = pytest.importorskip("fpc.connector", reason="fiware-pyspark-connector not installed")


def plain(value):
    """fpc's objects as comparable data (they define no __eq__)."""
    if hasattr(value, "__dict__"):
        return {"class": type(value).__name__,
                **{key: plain(item) for key, item in vars(value).items()}}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def old_connector_line(fixture, received_at) -> str:
    """The line fpc's own HTTP endpoint built for this notification, stamped
    with our receive time so that both lines carry the same timestamp."""

    class Request:
        headers = {name: value for name, value in fixture.get("headers", {}).items()}

    connector.RECV_SINGLETON.request_completeness = True
    stamp = datetime.datetime.fromtimestamp(
        received_at.seconds + received_at.nanos // 1000 / 1e6,
        tz=datetime.timezone.utc).replace(tzinfo=None)
    stamp = stamp.replace(microsecond=received_at.nanos // 1000)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the body
        return connector.structureNGSIRequest(Request, fixture_body_bytes(fixture), stamp)


def parse_or_error(line):
    try:
        return plain(connector.parse(line)), None
    except Exception as error:  # the old parser raises on what it cannot read
        return None, type(error).__name__


@pytest.mark.parametrize("name", FIXTURE_PARAMS)
def test_fpc_line_parses_to_the_same_event_as_the_old_connectors_line(replayed, name):  # noqa: F811
    fixture = json.loads((FIXTURE_DIR / name).read_text())
    entry = replayed["by_name"][name]
    ours, our_error = parse_or_error(entry["lines"]["fpc"])
    theirs, their_error = parse_or_error(old_connector_line(fixture, entry["event"].received_at))
    if their_error is None:
        assert our_error is None
        assert ours == theirs
    elif fixture_body_bytes(fixture).strip() == b"":
        # The old connector wrote `"Body":}` for an empty body; ours is {}.
        assert ours is not None and ours["entities"] == []
    else:
        # Neither parses what the old parser never understood (non-JSON,
        # keyValues entities, ...): same failure, not a different event.
        assert our_error is not None


def test_fpc_line_carries_service_path_and_normalized_entities(replayed):  # noqa: F811
    entry = replayed["by_name"]["v2-01-normalized-default.json"]
    event = connector.parse(entry["lines"]["fpc"])
    assert type(event).__name__ == "NGSIEventv2"
    assert event.servicePath == "/"
    assert [entity.id for entity in event.entities] == ["E1"]
    assert {name: attr.value for name, attr in event.entities[0].attrs.items()} == \
        {"A1": 1, "A2": 2, "A3": 3}


def test_fpc_line_of_ngsi_ld_keeps_the_link_context(replayed):  # noqa: F811
    entry = replayed["by_name"]["ld-01-normalized-link-geo-rel-observedAt.json"]
    event = connector.parse(entry["lines"]["fpc"])
    assert type(event).__name__ == "NGSIEventLD"
    assert event.entities and all(entity.context for entity in event.entities)
