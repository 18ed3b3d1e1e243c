"""Entity filters shared by both flavors: type, id, idPattern, q, paging.

`q` supports what tests need: statements joined by ';' (NGSI-LD also '&'),
each `name`, `!name`, or `name OP value` with OP one of == != > < >= <=,
`==` also taking a list (a,b) or a range (a..b). Values compare as numbers,
else as dates (so dateModified / modifiedAt work), else as strings.
"""
import re

from tests.testing.broker_sim.encoding import parse_iso

_STATEMENT_RE = re.compile(r"^\s*(!?)([^=!<>~]+)(==|!=|>=|<=|>|<|~=)?(.*)$")
MISSING = object()


def _comparable(value):
    """Numbers as floats, ISO dates as epoch seconds, quotes stripped."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return value
    text = value.strip()
    quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""
    if quoted:
        text = text[1:-1]
    else:
        try:
            return float(text)
        except ValueError:
            pass
    moment = parse_iso(text) if re.match(r"\d{4}-\d\d-\d\d", text) else None
    # Dates compare in whole milliseconds, the precision brokers show.
    return float(round(moment * 1000)) if moment is not None else text


def _literal(text):
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    return _comparable(text)


def _compare(actual, op, expected_text):
    actual = _comparable(actual)
    if op == "==" and ".." in expected_text:
        low, high = (_literal(p) for p in expected_text.split("..", 1))
        return _ordered(actual, low, ">=") and _ordered(actual, high, "<=")
    if op in ("==", "!="):
        options = [_literal(p) for p in expected_text.split(",")]
        hit = any(actual == o for o in options)
        return hit if op == "==" else not hit
    if op == "~=":
        return isinstance(actual, str) and re.search(
            str(_literal(expected_text)), actual) is not None
    return _ordered(actual, _literal(expected_text), op)


def _ordered(actual, expected, op):
    try:
        if op == ">":
            return actual > expected
        if op == "<":
            return actual < expected
        if op == ">=":
            return actual >= expected
        return actual <= expected
    except TypeError:  # e.g. a number against a string: no match
        return False


def parse_q(q, get_value, separators=";"):
    """A predicate entity -> bool. `get_value(entity, name)` returns the
    comparable value of an attribute or builtin, or MISSING."""
    statements = [s for s in re.split("[" + re.escape(separators) + "]", q)
                  if s.strip()]
    parsed = []
    for statement in statements:
        match = _STATEMENT_RE.match(statement)
        if not match:
            raise ValueError(f"invalid q statement: {statement}")
        parsed.append(match.groups())

    def predicate(entity):
        for negated, name, op, expected in parsed:
            value = get_value(entity, name.strip())
            expected = expected.strip()
            if op is None:
                if (value is MISSING) != bool(negated):
                    return False
            elif value is MISSING or not _compare(value, op, expected):
                return False
        return True
    return predicate


def service_path_matches(pattern, path):
    """NGSIv2 service path scoping: "/a/#" is /a and below, "/a" is /a."""
    if pattern.endswith("/#"):
        root = pattern[:-2] or "/"
        return root == "/" or path == root or path.startswith(root + "/")
    return path == pattern


def match_id(entity_id, ids=None, id_pattern=None):
    if ids is not None and entity_id not in ids:
        return False
    if id_pattern is not None and not re.search(id_pattern, entity_id):
        return False
    return True


def page(items, query, default_limit=20):
    """Applies offset/limit; returns (page, total)."""
    offset = int(query.get("offset", 0))
    limit = int(query.get("limit", default_limit))
    return items[offset:offset + limit], len(items)
