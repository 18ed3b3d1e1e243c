"""Fault injection: rules that make the next matching requests fail.

A rule is a JSON object; every key is optional:
  status        answer this HTTP status (with a broker-style error body)
  retry_after   Retry-After header value for that answer
  delay_ms      wait this long before handling (or failing) the request
  drop_connection  close the socket without answering
  count         how many requests the rule applies to (default: all)
  path_prefix   only requests whose path starts with this (default: all)
  method        only this HTTP method
`stop_listening_ms` is not a rule but an action (see server.py).
Admin requests (/__sim/...) are never faulted.
"""
import threading

RULE_KEYS = {"status", "retry_after", "delay_ms", "drop_connection", "count",
             "path_prefix", "method"}


class Faults:
    """Thread-safe list of rules; the first rule matching a request is
    consumed (its count decremented) and returned."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def add(self, rule):
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        if not (set(rule) & {"status", "delay_ms", "drop_connection"}):
            raise ValueError("a fault needs status, delay_ms or "
                             "drop_connection")
        with self._lock:
            self._rules.append(dict(rule))

    def clear(self):
        with self._lock:
            self._rules.clear()

    def list(self):
        with self._lock:
            return [dict(r) for r in self._rules]

    def take(self, method, path):
        """The rule for this request, or None."""
        with self._lock:
            for rule in self._rules:
                if not path.startswith(rule.get("path_prefix", "")):
                    continue
                if rule.get("method", method).upper() != method:
                    continue
                if "count" in rule:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self._rules.remove(rule)
                return rule
        return None
