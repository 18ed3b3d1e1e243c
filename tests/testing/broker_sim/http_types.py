"""The request and response values passed between the HTTP layer and the
API modules, so the APIs never touch sockets."""
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    headers: object  # email.message.Message: case-insensitive .get()
    body: bytes = None  # None when the request had no Content-Length
    correlator: str = field(default_factory=lambda: str(uuid.uuid4()))
    notifications_sent: int = 0  # numbers "cbnotif=<n>" per request

    def __post_init__(self):
        given = self.headers.get("Fiware-Correlator")
        if given:
            self.correlator = given
        self.query = {k: v[0] for k, v in
                      parse_qs(self.raw_query, keep_blank_values=True).items()}

    def options(self):
        return set(filter(None, self.query.get("options", "").split(",")))

    def next_correlator(self):
        """Orion marks the n-th notification a request causes with
        "<correlator>; cbnotif=<n>"."""
        self.notifications_sent += 1
        return f"{self.correlator}; cbnotif={self.notifications_sent}"


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = None  # None: no body and no Content-Type
