#!/usr/bin/env python3
"""Builds the fuzz seed corpora from ../shared/orion-fixtures: every recorded
notification (headers + body, in the fuzz input format of fuzz_input.h) for
the notification parser and the request builder, every recorded broker answer
(status + body) for the response parsers, and a few raw requests for the
HTTP request parser. Usage: build_seed_corpus.py OUT_DIR
(writes OUT_DIR/<target>/<fixture>)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NGSI_BRIDGE_SHARED", ROOT.parent / "shared"))
SKIPPED = {"host", "content-length"}
# fuzz_http_request_parser: the first byte picks the read size (byte % 64 + 1)
# of the piecewise parse, the rest is the connection's bytes.
HTTP_POST = (b"POST /v2/notify?subscriptionId=s1 HTTP/1.1\r\nHost: bridge\r\n"
             b"Content-Type: application/json\r\nContent-Length: 11\r\n\r\n"
             b'{"data":[]}')
HTTP_CHUNKED = (b"POST /v2/notify HTTP/1.1\r\nHost: bridge\r\n"
                b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")
HTTP_SEEDS = {
    "post": b"\x00" + HTTP_POST,
    "chunked_post": b"\x02" + HTTP_CHUNKED,
    "pipelined": b"\x06" + HTTP_POST
    + b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
}


def body_bytes(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def with_headers(headers: dict, body: bytes) -> bytes:
    lines = "".join(f"{k}: {v}\n" for k, v in headers.items() if k.lower() not in SKIPPED)
    return lines.encode() + b"\n" + body


def main(out: Path) -> int:
    fixtures = SHARED / "orion-fixtures"
    targets = {name: out / name for name in
               ("fuzz_notification_parser", "fuzz_entity_renderer", "fuzz_result_parser",
                "fuzz_http_request_parser")}
    for folder in targets.values():
        folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted((fixtures / "notifications").glob("*.json")):
        fixture = json.loads(path.read_text())
        raw = fixture.get("body_raw")
        body = raw.encode() if isinstance(raw, str) else body_bytes(fixture.get("body"))
        seed = with_headers(fixture.get("headers", {}), body)
        for name in ("fuzz_notification_parser", "fuzz_entity_renderer"):
            (targets[name] / path.stem).write_bytes(seed)
        count += 1
    for path in sorted((fixtures / "writeback").glob("*.json")):
        response = json.loads(path.read_text()).get("response", {})
        status = response.get("status", response.get("status_code", 0))
        seed = with_headers({"Status": status}, body_bytes(response.get("body")))
        (targets["fuzz_result_parser"] / path.stem).write_bytes(seed)
        count += 1
    for name, seed in HTTP_SEEDS.items():
        (targets["fuzz_http_request_parser"] / name).write_bytes(seed)
    print(f"{count} seeds from {fixtures} and {len(HTTP_SEEDS)} HTTP requests")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "build-fuzz/seeds")))
