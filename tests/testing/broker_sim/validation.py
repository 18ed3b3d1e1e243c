"""Orion's input rules: tenant and service path headers, identifiers,
forbidden characters, sizes. Every check raises the broker's exact error."""
import re

from tests.testing.broker_sim.errors import bad_request, ld_error, v2_error

# Forbidden anywhere in ids, names and (non TextUnrestricted) string values.
FORBIDDEN_CHARS = set("<>\"'=;()")
# Identifiers are printable ASCII without these (they break URLs).
FORBIDDEN_ID_CHARS = FORBIDDEN_CHARS | set("&?/#")
MAX_ID_LENGTH = 256
MAX_TENANT_LENGTH = 50
MAX_SERVICE_PATH_COMPONENTS = 10
MAX_SERVICE_PATH_COMPONENT_LENGTH = 50
DEFAULT_MAX_PAYLOAD = 1024 * 1024  # Orion's -inReqPayloadMaxSize default
_TENANT_RE = re.compile(r"^[A-Za-z0-9_]*$")
_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


def is_valid_identifier(text):
    return all(0x21 <= ord(c) <= 0x7E and c not in FORBIDDEN_ID_CHARS
               for c in text)


def has_forbidden_chars(value):
    """True if any string inside a JSON value holds a forbidden character."""
    if isinstance(value, str):
        return any(c in FORBIDDEN_CHARS for c in value)
    if isinstance(value, dict):
        return any(has_forbidden_chars(k) or has_forbidden_chars(v)
                   for k, v in value.items())
    if isinstance(value, list):
        return any(has_forbidden_chars(v) for v in value)
    return False


def check_v2_identifier(text, what):
    """`what` is Orion's wording: "entity id", "attribute name", ..."""
    if not isinstance(text, str):
        raise bad_request(f"Invalid JSON type for {what}")
    if len(text) < 1:
        raise bad_request(f"{what} length: 0, min length supported: 1")
    if len(text) > MAX_ID_LENGTH:
        raise bad_request(f"{what} length: {len(text)}, "
                          f"max length supported: {MAX_ID_LENGTH}")
    if not is_valid_identifier(text):
        raise bad_request(f"Invalid characters in {what}")


def v2_tenant(headers):
    """The NGSIv2 tenant (lower-cased, "" for the default one)."""
    tenant = headers.get("Fiware-Service", "")
    if len(tenant) > MAX_TENANT_LENGTH:
        raise bad_request("bad length - a tenant name can be max "
                          f"{MAX_TENANT_LENGTH} characters long")
    if not _TENANT_RE.match(tenant):
        raise bad_request("bad character in tenant name - only underscore "
                          "and alphanumeric characters are allowed")
    return tenant.lower()


def v2_service_path(headers, for_query):
    """The service path; queries default to the whole tree ("/#")."""
    raw = headers.get("Fiware-ServicePath")
    if raw is None or raw.strip() == "":
        return "/#" if for_query else "/"
    path = raw.strip()
    if not path.startswith("/"):
        raise bad_request("Only /absolute/ Service Paths allowed "
                          "[a service path must begin with /]")
    body = path[1:-2] if path.endswith("/#") else path[1:]
    components = [c for c in body.split("/") if c] if body else []
    if len(components) > MAX_SERVICE_PATH_COMPONENTS:
        raise bad_request("too many components in ServicePath")
    for component in components:
        if len(component) > MAX_SERVICE_PATH_COMPONENT_LENGTH:
            raise bad_request("component-name too long in ServicePath")
        if not _TENANT_RE.match(component):
            raise bad_request("a component of ServicePath contains an "
                              "illegal character")
    if path.endswith("/#") and not for_query:
        raise bad_request("in update requests, a service path cannot end "
                          "in /#")
    return path


def ld_tenant(headers):
    """NGSILD-Tenant or Fiware-Service (never both), lower-cased."""
    ngsild = headers.get("NGSILD-Tenant")
    fiware = headers.get("Fiware-Service")
    if ngsild is not None and fiware is not None:
        raise ld_error(400, "BadRequestData", "HTTP header duplication",
                       "Tenant set twice (or perhaps both Fiware-Service "
                       "and NGSILD-Tenant?)")
    return (ngsild if ngsild is not None else fiware or "").lower()


def is_uri(text):
    return isinstance(text, str) and bool(_URI_RE.match(text))


def check_payload_size(size, limit, flavor):
    if size <= limit:
        return
    if flavor == "ld":
        raise ld_error(413, "BadRequestData", "Payload Too Large",
                       f"payload size: {size}, max size supported: {limit}")
    raise v2_error(413, "RequestEntityTooLarge",
                   f"payload size: {size}, max size supported: {limit}")
