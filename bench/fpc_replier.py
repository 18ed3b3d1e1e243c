"""Drives the old connector's write-back (fpc.connector.SemistructuredReplyToBroker).

Usage: python3 fpc_replier.py URL CALLERS DURATION_S

CALLERS threads each call SemistructuredReplyToBroker for DURATION_S seconds,
one entity per call (the connector writes one record per request), against
URL (bench's Orion-like sink, POST /v2/op/update). Prints one JSON object.
"""
import json
import sys
import threading
import time

from fpc import connector

BODY = ('{"actionType":"append","entities":[{"id":"%%TOREPLACE%%","type":"Room",'
        '"temperature":{"type":"Number","value":%%TOREPLACE%%,'
        '"metadata":{"unitCode":{"type":"Text","value":"CEL"}}},'
        '"pressure":{"type":"Integer","value":%%TOREPLACE%%},'
        '"name":{"type":"Text","value":"%%TOREPLACE%%"}}]}')


def main() -> None:
    url, callers, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    duration = min(duration, 600.0)
    lock = threading.Lock()
    totals = {"calls": 0, "errors": 0}
    latencies: list[float] = []
    first_error: list[str] = []
    start = time.monotonic()
    end = start + duration

    def caller(number: int) -> None:
        index = 0
        mine = []
        calls = errors = 0
        while time.monotonic() < end and calls < 10_000_000:
            values = [f"urn:ngsi-ld:Room:fpc-{number}-{index % 100000}",
                      20 + index % 100 / 10.0, 720 + index % 50, f"Room {index}"]
            index += 1
            t0 = time.monotonic()
            result = connector.SemistructuredReplyToBroker(values, BODY, url, "POST")
            mine.append(time.monotonic() - t0)
            calls += 1
            if isinstance(result, Exception) or result:  # the sink answers 204, empty
                errors += 1
                if not first_error:
                    first_error.append(repr(result)[:200])
        with lock:
            totals["calls"] += calls
            totals["errors"] += errors
            latencies.extend(mine)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    latencies.sort()

    def at(q: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1) + 0.5))] * 1e6

    succeeded = totals["calls"] - totals["errors"]
    print(json.dumps({"calls": totals["calls"], "failed_calls": totals["errors"],
                      "succeeded": succeeded, "failed": totals["errors"],
                      "first_error": first_error[0] if first_error else "",
                      "elapsed_s": elapsed, "entities_per_s": succeeded / elapsed,
                      "lat_p50_us": at(0.5), "lat_p99_us": at(0.99),
                      "lat_max_us": latencies[-1] * 1e6 if latencies else 0.0}))


if __name__ == "__main__":
    main()
