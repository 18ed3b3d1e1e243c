"""The simulator's own HTTP API under /__sim, for tests and demos:
faults, the request log, reset, and waiting for notifications to go out."""
import json

from tests.testing.broker_sim.encoding import dumps
from tests.testing.broker_sim.errors import ApiError
from tests.testing.broker_sim.http_types import Response


def _json(status, body):
    return Response(status, {"Content-Type": "application/json"}, dumps(body))


def _error(status, description):
    return ApiError(status, {"error": "BadRequest",
                             "description": description})


class AdminApi:
    def __init__(self, sim):
        self._sim = sim

    def handle(self, request):
        route = (request.method, request.path)
        sim = self._sim
        if route == ("GET", "/__sim/health"):
            return _json(200, {"status": "ok"})
        if route == ("POST", "/__sim/faults"):
            return self._add_fault(request)
        if route == ("GET", "/__sim/faults"):
            return _json(200, sim.faults.list())
        if route == ("DELETE", "/__sim/faults"):
            sim.faults.clear()
            return Response(204)
        if route == ("GET", "/__sim/requests"):
            return _json(200, sim.request_log.entries())
        if route == ("DELETE", "/__sim/requests"):
            sim.request_log.clear()
            return Response(204)
        if route == ("POST", "/__sim/reset"):
            sim.reset()
            return Response(204)
        if route == ("POST", "/__sim/flush"):
            sim.notifier.wait_idle()
            return Response(204)
        raise ApiError(404, {"error": "NotFound",
                             "description": f"no admin route {route}"})

    def _add_fault(self, request):
        try:
            rule = json.loads(request.body or b"")
        except ValueError:
            raise _error(400, "fault must be a JSON object")
        if not isinstance(rule, dict):
            raise _error(400, "fault must be a JSON object")
        if "stop_listening_ms" in rule:
            self._sim.stop_listening(rule["stop_listening_ms"] / 1000.0)
            return _json(202, rule)
        try:
            self._sim.faults.add(rule)
        except ValueError as error:
            raise _error(400, str(error))
        return _json(201, rule)
