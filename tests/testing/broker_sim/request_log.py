"""The log of requests the simulator received, for tests to read back."""
import threading
import time

MAX_ENTRIES = 10000  # oldest dropped first, so a long demo cannot grow it


class RequestLog:
    """Thread-safe, bounded."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def add(self, request, status):
        body = request.body or b""
        entry = {"time": time.time(), "method": request.method,
                 "path": request.path, "query": request.raw_query,
                 "headers": dict(request.headers.items()),
                 "body": body.decode("utf-8", errors="replace"),
                 "status": status}
        with self._lock:
            self._entries.append(entry)
            del self._entries[:-MAX_ENTRIES]

    def entries(self):
        with self._lock:
            return list(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()
