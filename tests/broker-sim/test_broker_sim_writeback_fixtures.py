"""Replays every request of orion-fixtures/writeback against a fresh
simulator (its `setup` first) and checks the recorded answer: status, JSON
body, and the headers that carry meaning (Location, Content-Type,
Content-Length, Link, Fiware-Correlator)."""
import json
import re
import socket

import pytest

from tests.testing.broker_sim.fixture_files import fixture_files
from tests.testing.broker_sim.harness import RunningBrokerSim

FILES = fixture_files("writeback")
COMPARED_HEADERS = ("location", "content-type", "content-length", "link")
_MAX_SIZE_RE = re.compile(r"-inReqPayloadMaxSize (\d+)")


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _unreproducible(case):
    note = case.get("setup_note", "")
    if "repeats the JSON key" in note:
        return ("the recorded request repeated JSON keys and the fixture "
                "keeps only the parsed body, so the bytes that produced this "
                "answer are lost: " + note.split(". ", 1)[1])
    return None


def _send(call, request):
    return call(request["method"], request["path"], request["body"],
                request["headers"], request["query"])


def _oversized_request(port, request, size):
    """Sends only the headers of a `size`-byte body (the fixture's body was
    a ~60 MB file); Orion answers from Content-Length alone."""
    head = [f"{request['method']} {request['path']} HTTP/1.1",
            f"Host: 127.0.0.1:{port}", f"Content-Length: {size}"]
    head += [f"{k}: {v}" for k, v in request["headers"].items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        raw = b""
        while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            raw += chunk
    head_text, _, body = raw.partition(b"\r\n\r\n")
    lines = head_text.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return (int(lines[0].split()[1]), {k.lower(): v for k, v in
                                        headers.items()}, body)


def _check(case, status, headers, body):
    expected = case["response"]
    assert status == expected["status"], body
    if expected["body"] is None:
        assert body == b""
    else:
        assert json.loads(body) == expected["body"]
    wanted = {k.lower(): v for k, v in expected["headers"].items()}
    for name in COMPARED_HEADERS:
        assert headers.get(name) == wanted.get(name), name
    if case["broker"] == "orion-v2":
        assert re.fullmatch(r"[0-9a-f\-]{36}", headers["fiware-correlator"])


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_writeback_fixture_answer_matches_orion(path, sim, call):
    case = _load(path)
    reason = _unreproducible(case)
    if reason:
        pytest.skip(reason)
    size_limit = _MAX_SIZE_RE.search(case.get("setup_note", ""))
    if size_limit:
        # The recording broker ran with a raised payload limit: do too.
        with RunningBrokerSim("--max-payload-bytes",
                              size_limit.group(1)) as big:
            size = int(re.search(r"payload size: (\d+)",
                                 case["response"]["body"]["description"])[1])
            _check(case, *_oversized_request(big.port, case["request"], size))
        return
    for request in case["setup"]:
        _send(call, request)
    _check(case, *_send(call, case["request"]))


def test_writeback_fixtures_are_present():
    assert FILES, "no writeback fixtures found: set NGSI_BRIDGE_SHARED"
