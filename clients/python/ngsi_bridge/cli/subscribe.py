"""ngsi-subscribe: broker subscriptions pointing at an ngsi-receiver, for people.

    ngsi-subscribe list   --broker URL [--flavor v2|ld] [--service S] [--callback-url URL] [--all]
    ngsi-subscribe create --file subs.yaml --callback-url URL [--broker URL ...]
    ngsi-subscribe delete --broker URL (ID... | --name NAME | --all-ours)
    ngsi-subscribe health --receiver-admin http://receiver:9090

`list` shows the subscriptions whose notification URL is the receiver's
(--callback-url) or that carry the receiver's marker ("[ngsi-bridge:NAME]" at
the start of the description); --all shows every subscription. `create` reads
the receiver's own subscriptions file format (YAML needs PyYAML; JSON works
without) and creates those not at the broker yet — keeping them in shape
afterwards is the receiver's job (--subscriptions_file). `health` prints what
the receiver's admin endpoint /subscriptions reports.

Standard library only (YAML through PyYAML when installed). Exit status 0 on
success, 1 when a broker call failed, 2 for bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterable, Sequence

MARKER_PREFIX = "[ngsi-bridge:"


class BrokerError(Exception):
    """A broker call answered an error or could not be made."""


# --- the subscriptions file (same format as ngsi-receiver --subscriptions_file)


def load_specs(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            import yaml  # optional: PyYAML
        except ImportError as error:
            raise SystemExit(f"{path}: not JSON, and PyYAML is not installed "
                             "to read YAML") from error
        doc = yaml.safe_load(text)
    defaults: dict = {}
    if isinstance(doc, dict):
        defaults = doc.get("defaults") or {}
        doc = doc.get("subscriptions") or []
    if not isinstance(doc, list):
        raise SystemExit(f"{path}: 'subscriptions' must be a list")
    specs = []
    for index, item in enumerate(doc):
        if not isinstance(item, dict) or not item.get("name"):
            raise SystemExit(f"{path}: subscriptions[{index}] needs a name")
        spec = {**defaults, **item}
        spec["broker"] = str(spec.get("broker") or spec.get("broker_url") or "").rstrip("/")
        specs.append(spec)
    return specs


def _flavor(spec: dict) -> str:
    return "ld" if str(spec.get("flavor", "v2")).lower() in ("ld", "ngsi-ld", "ngsi_ld") else "v2"


def _entities(spec: dict) -> list[dict]:
    out = []
    for selector in spec.get("entities") or []:
        entity = {}
        if selector.get("id"):
            entity["id"] = selector["id"]
        pattern = selector.get("idPattern") or selector.get("id_pattern")
        if pattern:
            entity["idPattern"] = pattern
        if selector.get("type"):
            entity["type"] = selector["type"]
        out.append(entity)
    return out


def subscription_body(spec: dict, callback_url: str) -> dict:
    """The body the receiver creates for `spec` (see subscription_spec.cc)."""
    description = f"{MARKER_PREFIX}{spec['name']}]"
    if spec.get("description"):
        description += " " + spec["description"]
    condition = spec.get("condition_attrs") or spec.get("watched_attrs") or []
    notified = spec.get("notified_attrs") or spec.get("attrs") or []
    fmt = spec.get("format", "normalized")
    body: dict = {"description": description}
    if _flavor(spec) == "ld":
        body["type"] = "Subscription"
        body["entities"] = _entities(spec)
        if condition:
            body["watchedAttributes"] = condition
        notification: dict = {"format": fmt,
                              "endpoint": {"uri": callback_url, "accept": "application/json"}}
        if notified:
            notification["attributes"] = notified
        body["notification"] = notification
    else:
        body["subject"] = {"entities": _entities(spec),
                           "condition": {"attrs": condition} if condition else {}}
        body["notification"] = {"http": {"url": callback_url}, "attrs": notified,
                                "attrsFormat": fmt}
    if spec.get("throttling"):
        body["throttling"] = int(spec["throttling"])
    if spec.get("expires"):
        expires = spec["expires"]  # PyYAML reads an unquoted one as a datetime
        expires = expires.isoformat() if hasattr(expires, "isoformat") else str(expires)
        body["expiresAt" if _flavor(spec) == "ld" else "expires"] = expires
    return body


# --- broker calls


class Broker:
    """A broker's subscription API for one tenant."""

    def __init__(self, url: str, flavor: str = "v2", service: str = "",
                 service_path: str = "", headers: dict | None = None, timeout: float = 10):
        self.url = url.rstrip("/")
        self.flavor = flavor
        self.timeout = timeout
        self.headers = dict(headers or {})
        if service:
            self.headers["NGSILD-Tenant" if flavor == "ld" else "Fiware-Service"] = service
        if service_path and flavor == "v2":
            self.headers["Fiware-ServicePath"] = service_path

    @property
    def path(self) -> str:
        return "/ngsi-ld/v1/subscriptions" if self.flavor == "ld" else "/v2/subscriptions"

    def _call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", **self.headers}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
                return response.status, dict(response.headers), text
        except urllib.error.HTTPError as error:
            raise BrokerError(f"{method} {path}: {error.code} "
                              f"{error.read().decode(errors='replace')[:300]}") from error
        except OSError as error:
            raise BrokerError(f"{method} {self.url}{path}: {error}") from error

    def list(self) -> list[dict]:
        out: list[dict] = []
        offset = 0
        while True:
            _, _, text = self._call("GET", f"{self.path}?limit=100&offset={offset}")
            page = json.loads(text or "[]")
            out.extend(page)
            if len(page) < 100:
                return out
            offset += 100

    def create(self, body: dict) -> str:
        _, headers, _ = self._call("POST", self.path, body)
        location = next((v for k, v in headers.items() if k.lower() == "location"), "")
        return location.rsplit("/", 1)[-1]

    def delete(self, sub_id: str) -> None:
        self._call("DELETE", f"{self.path}/{urllib.parse.quote(sub_id, safe=':')}")


def owner(sub: dict) -> str:
    description = sub.get("description") or ""
    if description.startswith(MARKER_PREFIX) and "]" in description:
        return description[len(MARKER_PREFIX):description.index("]")]
    return ""


def notify_url(sub: dict) -> str:
    notification = sub.get("notification") or {}
    return ((notification.get("http") or {}).get("url")
            or (notification.get("httpCustom") or {}).get("url")
            or (notification.get("endpoint") or {}).get("uri") or "")


def broker_row(sub: dict) -> list[str]:
    notification = sub.get("notification") or {}
    status = sub.get("status") or ("active" if sub.get("isActive", True) else "paused")
    fails = notification.get("failsCounter", notification.get("consecutiveErrors", 0))
    return [sub.get("id", ""), owner(sub) or "-", status,
            str(notification.get("timesSent", 0)), str(fails),
            notification.get("lastSuccess", "-"), notification.get("lastFailure", "-"),
            notify_url(sub)]


# --- output


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain text table: one header line, a rule, one line per row."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    out = [line(headers), line("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    return "\n".join(out) + "\n"


BROKER_COLUMNS = ["ID", "NAME", "STATUS", "SENT", "FAILS", "LAST SUCCESS", "LAST FAILURE", "URL"]


# --- commands


def _headers(values: list[str] | None) -> dict:
    out = {}
    for value in values or []:
        name, sep, text = value.partition(":")
        if not sep:
            raise SystemExit(f"--header wants NAME:VALUE, got {value!r}")
        out[name.strip()] = text.strip()
    return out


def _broker(args) -> Broker:
    return Broker(args.broker, args.flavor, args.service, args.service_path,
                  _headers(args.header))


def cmd_list(args, out) -> int:
    subs = _broker(args).list()
    if not args.all:
        subs = [s for s in subs if owner(s) or
                (args.callback_url and notify_url(s).startswith(args.callback_url))]
    out.write(table(BROKER_COLUMNS, (broker_row(s) for s in subs)))
    return 0


def cmd_create(args, out) -> int:
    rows = []
    failed = False
    for spec in load_specs(args.file):
        broker_url = args.broker or spec["broker"]
        if not broker_url:
            raise SystemExit(f"subscription {spec['name']!r} names no broker")
        callback = spec.get("callback_url") or args.callback_url
        if not callback:
            raise SystemExit(f"subscription {spec['name']!r}: no callback_url and no "
                             "--callback-url")
        broker = Broker(broker_url, _flavor(spec), spec.get("service", ""),
                        spec.get("service_path", ""),
                        {**(spec.get("headers") or {}), **_headers(args.header)})
        try:
            existing = [s for s in broker.list() if owner(s) == spec["name"]]
            if existing:
                rows.append([spec["name"], existing[0].get("id", ""), "exists", broker_url])
                continue
            sub_id = broker.create(subscription_body(spec, callback))
            rows.append([spec["name"], sub_id, "created", broker_url])
        except BrokerError as error:
            failed = True
            rows.append([spec["name"], "-", f"error: {error}", broker_url])
    out.write(table(["NAME", "ID", "RESULT", "BROKER"], rows))
    return 1 if failed else 0


def cmd_delete(args, out) -> int:
    broker = _broker(args)
    ids = list(args.ids)
    if args.name or args.all_ours:
        for sub in broker.list():
            name = owner(sub)
            if name and (args.all_ours or name == args.name):
                ids.append(sub["id"])
    if not ids:
        out.write("nothing to delete\n")
        return 0
    rows = []
    failed = False
    for sub_id in ids:
        try:
            broker.delete(sub_id)
            rows.append([sub_id, "deleted"])
        except BrokerError as error:
            failed = True
            rows.append([sub_id, f"error: {error}"])
    out.write(table(["ID", "RESULT"], rows))
    return 1 if failed else 0


def cmd_health(args, out) -> int:
    url = args.receiver_admin.rstrip("/") + "/subscriptions"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            doc = json.loads(response.read().decode())
    except (OSError, ValueError) as error:
        out.write(f"cannot read {url}: {error}\n")
        return 1
    rows = []
    unhealthy = False
    for s in doc.get("subscriptions", []):
        unhealthy = unhealthy or s.get("status") != "active"
        rows.append([s.get("name", ""), s.get("flavor", ""), s.get("id") or "-",
                     s.get("status", ""), str(s.get("timesSent", 0)),
                     str(s.get("failures", 0)), s.get("lastSuccess") or "-",
                     s.get("lastFailure") or "-", s.get("lastAction") or "-",
                     str(s.get("backfilledEntities", 0)), s.get("lastError") or ""])
    out.write(table(["NAME", "FLAVOR", "ID", "STATUS", "SENT", "FAILS", "LAST SUCCESS",
                     "LAST FAILURE", "ACTION", "BACKFILLED", "ERROR"], rows))
    return 1 if unhealthy and args.strict else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ngsi-subscribe",
        description="List, create, delete and check broker subscriptions that "
                    "notify an ngsi-receiver.")
    commands = parser.add_subparsers(dest="command", required=True)

    def broker_options(p, required=True):
        p.add_argument("--broker", required=required,
                       help="broker base URL, e.g. http://orion:1026")
        p.add_argument("--flavor", choices=["v2", "ld"], default="v2")
        p.add_argument("--service", default="", help="Fiware-Service / NGSILD-Tenant")
        p.add_argument("--service-path", default="", help="Fiware-ServicePath (v2)")
        p.add_argument("--header", action="append",
                       help="NAME:VALUE sent to the broker (credentials); repeatable")

    p = commands.add_parser("list", help="subscriptions pointing at the receiver")
    broker_options(p)
    p.add_argument("--callback-url", default="",
                   help="the receiver's notification URL (prefix match)")
    p.add_argument("--all", action="store_true", help="every subscription of the broker")
    p.set_defaults(run=cmd_list)

    p = commands.add_parser("create", help="create the subscriptions of a file")
    p.add_argument("--file", required=True, help="subscriptions file (YAML or JSON)")
    p.add_argument("--callback-url", default="",
                   help="the receiver's notification URL, for specs without one")
    p.add_argument("--broker", default="", help="overrides the file's broker")
    p.add_argument("--header", action="append", help="NAME:VALUE; repeatable")
    p.set_defaults(run=cmd_create)

    p = commands.add_parser("delete", help="delete subscriptions")
    broker_options(p)
    p.add_argument("ids", nargs="*", help="subscription ids")
    p.add_argument("--name", default="", help="the receiver-owned subscription NAME")
    p.add_argument("--all-ours", action="store_true",
                   help="every subscription carrying the receiver's marker")
    p.set_defaults(run=cmd_delete)

    p = commands.add_parser("health", help="the receiver's view of its subscriptions")
    p.add_argument("--receiver-admin", required=True,
                   help="the receiver's admin URL, e.g. http://receiver:9090")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any subscription is not active")
    p.set_defaults(run=cmd_health)
    return parser


def main(argv: Sequence[str] | None = None, out=None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    try:
        return args.run(args, out)
    except BrokerError as error:
        print(f"ngsi-subscribe: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
