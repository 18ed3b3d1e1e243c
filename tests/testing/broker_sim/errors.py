"""Errors an API handler raises; the server turns them into Orion's bodies.

NGSIv2 answers {"error": ..., "description": ...}; NGSI-LD answers a
ProblemDetails object. Both go out as application/json, like the brokers.
"""

LD_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class ApiError(Exception):
    """An HTTP error answer: status, a JSON body and extra headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def v2_error(status, error, description):
    return ApiError(status, {"error": error, "description": description})


def bad_request(description):
    return v2_error(400, "BadRequest", description)


def problem(type_name, title, detail, status=None):
    """A ProblemDetails dict; `status` is included only inside 207 lists,
    where Orion-LD puts it, and never in a top-level error answer."""
    body = {"type": LD_ERRORS + type_name, "title": title, "detail": detail}
    if status is not None:
        body["status"] = status
    return body


def ld_error(status, type_name, title, detail):
    return ApiError(status, problem(type_name, title, detail))
