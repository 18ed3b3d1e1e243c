#!/usr/bin/env python3
"""Builds the fuzz seed corpora from ../shared/orion-fixtures: every recorded
notification (headers + body, in the fuzz input format of fuzz_input.h) for
the notification parser and the request builder, every recorded broker answer
(status + body) for the response parsers. Usage: build_seed_corpus.py OUT_DIR
(writes OUT_DIR/<target>/<fixture>)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NGSI_BRIDGE_SHARED", ROOT.parent / "shared"))
SKIPPED = {"host", "content-length"}


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
               ("fuzz_notification_parser", "fuzz_entity_renderer", "fuzz_result_parser")}
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
    print(f"{count} seeds from {fixtures}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "build-fuzz/seeds")))
