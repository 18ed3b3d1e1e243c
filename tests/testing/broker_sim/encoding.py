"""JSON in and out the way Orion does it.

Orion keeps every number as a double and prints it with 9 decimals, trailing
zeros stripped (issue #4346: 7.999999999536117 goes out as 8). Bodies leave
compact, UTF-8, with keys in insertion order.
"""
import json
import time
from datetime import datetime, timezone


def orion_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, int):
        return value
    rounded = float(f"{value:.9f}")
    if rounded.is_integer() and abs(rounded) < 1e15:
        return int(rounded)
    return rounded


def orion_values(value):
    """Returns a copy of a JSON tree with numbers encoded as Orion does."""
    if isinstance(value, dict):
        return {k: orion_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [orion_values(v) for v in value]
    return orion_number(value)


def dumps(value):
    return json.dumps(orion_values(value), ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def loads(raw):
    """Parses a request body; raises ValueError on anything not JSON."""
    return json.loads(raw.decode("utf-8"))


def iso_ms(epoch):
    """Orion's timestamp form: ISO 8601, milliseconds, 'Z'."""
    millis = round(epoch * 1000)
    moment = datetime.fromtimestamp(millis // 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def now_ms():
    """The current time, to the millisecond the brokers keep."""
    return round(time.time(), 3)


def parse_iso(text):
    """Epoch seconds for an ISO 8601 date/time, or None if it is not one."""
    if not isinstance(text, str):
        return None
    candidate = text.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
