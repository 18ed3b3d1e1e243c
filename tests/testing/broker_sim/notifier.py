"""Delivers rendered notifications over HTTP, one at a time, in the order
they were produced, from one background thread, and records each outcome
on its subscription.

Thread-safe: enqueue() never blocks; state updates take the store lock.
"""
import http.client
import json
import queue
import sys
import threading
from urllib.parse import urlsplit

USER_AGENT = {"v2": "orion/4.7.0-sim", "ld": "orionld/post-v1.7.0-sim"}
TIMEOUT_S = 5


class Notifier:
    def __init__(self, store):
        self._store = store
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="notifier")
        self._thread.start()

    def enqueue(self, sub, method, url, headers, body):
        self._queue.put((sub, method, url, headers, body))

    def stop(self):
        self._queue.put(None)
        self._thread.join(timeout=TIMEOUT_S)

    def wait_idle(self):
        """Blocks until every queued notification has been attempted."""
        self._queue.join()

    def _run(self):
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._deliver(*job)
            finally:
                self._queue.task_done()

    def _deliver(self, sub, method, url, headers, body):
        with self._store.lock:
            if sub.paused:
                return
        status, reason = send(method, url, headers, body, sub.flavor)
        with self._store.lock:
            sub.record(status, reason)
        print(json.dumps({"event": "notification", "subscription": sub.id,
                          "url": url, "status": status, "error": reason}),
              file=sys.stderr, flush=True)


def send(method, url, headers, body, flavor):
    """Sends one request; (status, None) on an answer, (None, why) if none.
    Host and Content-Length come first, as libcurl writes them."""
    parts = urlsplit(url)
    connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                        else http.client.HTTPConnection)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection = connection_class(parts.hostname, parts.port,
                                      timeout=TIMEOUT_S)
        connection.putrequest(method, target, skip_accept_encoding=True)
        connection.putheader("User-Agent", USER_AGENT[flavor])
        connection.putheader("Content-Length", str(len(body or b"")))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status, None
    except (OSError, http.client.HTTPException) as error:
        return None, str(error) or type(error).__name__
