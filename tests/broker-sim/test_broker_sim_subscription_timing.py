"""`expires` and `throttling` in subscriptions, echoed as Orion and
Orion-LD do: Orion keeps `expires` in whole seconds and renders it with
".000Z", leaves it out when permanent ("" in a PATCH makes it so) and shows
`throttling` only when above 0; Orion-LD says `expiresAt` (it takes the
older `expires` too) and removes a member PATCHed to null."""
import json

V2_BASE = {"subject": {"entities": [{"idPattern": ".*"}]},
           "notification": {"http": {"url": "http://127.0.0.1:9/notify"}}}
LD_BASE = {"type": "Subscription", "entities": [{"type": "T"}],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}}}


def _create(call, path, body):
    status, headers, text = call("POST", path, body)
    assert status == 201, text
    return headers["location"]


def _get(call, location):
    status, _, text = call("GET", location)
    assert status == 200
    return json.loads(text)


def test_v2_echoes_expires_in_orion_form_and_throttling(call):
    location = _create(call, "/v2/subscriptions", {
        **V2_BASE, "expires": "2050-04-05T14:00:00.00Z", "throttling": 5})
    sub = _get(call, location)
    assert sub["expires"] == "2050-04-05T14:00:00.000Z"
    assert sub["throttling"] == 5
    assert sub["status"] == "active"
    # A date without zone is UTC, fractions of a second are dropped.
    call("PATCH", location, {"expires": "2040-01-01T10:00:00.750"})
    assert _get(call, location)["expires"] == "2040-01-01T10:00:00.000Z"


def test_v2_leaves_out_permanent_expiry_and_zero_throttling(call):
    location = _create(call, "/v2/subscriptions", {**V2_BASE, "throttling": 0})
    sub = _get(call, location)
    assert "expires" not in sub and "throttling" not in sub
    location = _create(call, "/v2/subscriptions", {
        **V2_BASE, "expires": "2050-01-01T00:00:00Z", "throttling": 10})
    status, _, _ = call("PATCH", location, {"expires": "", "throttling": 0})
    assert status == 204
    sub = _get(call, location)
    assert "expires" not in sub and "throttling" not in sub
    # Listed the same way.
    listed = json.loads(call("GET", "/v2/subscriptions")[2])
    assert all("expires" not in s and "throttling" not in s for s in listed)


def test_v2_past_expiry_is_expired_until_cleared(call):
    location = _create(call, "/v2/subscriptions", {
        **V2_BASE, "expires": "2000-01-01T00:00:00Z"})
    assert _get(call, location)["status"] == "expired"
    call("PATCH", location, {"expires": ""})
    assert _get(call, location)["status"] == "active"


def test_v2_rejects_bad_expires_and_throttling(call):
    for bad in ({"expires": "soon"}, {"expires": 5}, {"throttling": "5"},
                {"throttling": -1}, {"throttling": 1.5}):
        status, _, text = call("POST", "/v2/subscriptions", {**V2_BASE, **bad})
        assert status == 400, bad
        assert json.loads(text)["error"] == "BadRequest"
    location = _create(call, "/v2/subscriptions", V2_BASE)
    status, _, _ = call("PATCH", location, {"expires": "never"})
    assert status == 400


def test_ld_echoes_expires_at_and_throttling(call):
    location = _create(call, "/ngsi-ld/v1/subscriptions", {
        **LD_BASE, "expires": "2028-12-31T10:00:00", "throttling": 5})
    sub = _get(call, location)
    assert sub["expiresAt"] == "2028-12-31T10:00:00.000Z"
    assert "expires" not in sub
    assert sub["throttling"] == 5
    call("PATCH", location, {"expiresAt": "2030-01-01T00:00:00.5Z",
                             "throttling": 2.5})
    sub = _get(call, location)
    assert sub["expiresAt"] == "2030-01-01T00:00:00.500Z"
    assert sub["throttling"] == 2.5


def test_ld_patch_with_null_removes_expires_at_and_throttling(call):
    location = _create(call, "/ngsi-ld/v1/subscriptions", {
        **LD_BASE, "expiresAt": "2000-01-01T00:00:00Z", "throttling": 5})
    assert _get(call, location)["status"] == "expired"
    status, _, _ = call("PATCH", location, {"expiresAt": None,
                                            "throttling": None})
    assert status == 204
    sub = _get(call, location)
    assert "expiresAt" not in sub and "throttling" not in sub
    assert sub["status"] == "active"


def test_ld_rejects_bad_expires_at_and_throttling(call):
    for bad in ({"expiresAt": "tomorrow"}, {"throttling": -2},
                {"throttling": "5"}):
        status, _, _ = call("POST", "/ngsi-ld/v1/subscriptions",
                            {**LD_BASE, **bad})
        assert status == 400, bad
