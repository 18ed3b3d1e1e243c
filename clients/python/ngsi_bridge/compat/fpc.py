"""Drop-in for the old FIWARE PySpark Connector's ``fpc.connector`` module,
backed by ngsi-receiver and ngsi-replier.

Change only the import line of an existing job:

    from fpc import connector                       # before
    from ngsi_bridge.compat import fpc as connector # after

    event, ssc = connector.Prime(sc, 10, StorageLevel.MEMORY_AND_DISK_2)
    event.flatMap(lambda e: e.entities).map(...)
    connector.SemistructuredReplyToBroker(values, body, "http://orion:1026/v2/op/update", "POST")

What changes underneath:

- ``Prime`` no longer starts an HTTP server and a socket relay in the driver:
  it reads the line listener of a running ngsi-receiver with
  ``socketTextStream(RECV_SINGLETON.socket_address, RECV_SINGLETON.socket_port)``
  (defaults ``localhost:9998``, the receiver's default ``--line_port``). The
  listener may use the ``fpc`` or the ``event-json`` line format; ``parse``
  reads both (and bare ``body`` lines). The broker's subscription points at
  the receiver (``--http_port``, 8061 by default, as before).
- ``ReplyToBroker`` and friends send the same request through
  ``Replier.Passthrough``: the URL's path and query go to the replier broker
  whose base URL matches ``api_url`` (or ``REPL_SINGLETON.broker``, or the
  replier's only broker). The replier pools connections and retries.
  As before, they return the response text, or the exception on failure.

Configuration: the same singletons and attribute names as the old
``fpc.connectorconf``, with the same defaults, plus ``RECV_SINGLETON.receiver_address``
(gRPC, informational), ``REPL_SINGLETON.replier_address`` and ``REPL_SINGLETON.broker``.
Environment variables override the defaults when the module is imported:
``NGSI_BRIDGE_FPC_SOCKET_ADDRESS``, ``NGSI_BRIDGE_FPC_SOCKET_PORT``,
``NGSI_BRIDGE_REPLIER`` (host:port), ``NGSI_BRIDGE_FPC_BROKER``,
``NGSI_BRIDGE_FPC_SERVICE``, ``NGSI_BRIDGE_FPC_SERVICEPATH``,
``NGSI_BRIDGE_FPC_BLUEPRINT``, ``NGSI_BRIDGE_FPC_PLACEHOLDER``.

Removed internals of the old module (its HTTP server and socket threads:
``ServerThread``, ``ConnectionThread``, ``SocketThread``,
``OrionPysparkRequestHandler``, ``structureNGSIRequest``) have no equivalent:
that work is done by ngsi-receiver.
"""
from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any, List, Tuple, Type, Union
from urllib.parse import urlsplit

__all__ = [
    "parse_context", "parse_entities", "parse", "StartConnector", "Prime",
    "listify", "replaceJSON", "sendRequest", "ReplyToBroker", "SemistructuredReplyToBroker",
    "UnstructuredReplyToBroker", "ReceiverConfiguration", "ReplierConfiguration",
    "RECV_SINGLETON", "REPL_SINGLETON", "NGSIAttribute", "NGSIEntityv2", "NGSIEntityLD",
    "NGSIEventv2", "NGSIEventLD",
]


### CONFIGURATION (same names and defaults as fpc.connectorconf) ###

class _Singleton():
    """One instance per subclass, as the old configuration classes: calling the
    class again returns it (and ``__init__`` resets it to the defaults)."""
    _instance = None

    def __new__(cls):
        if not cls._instance:
            cls._instance = super().__new__(cls)
        return cls._instance


class ReceiverConfiguration(_Singleton):
    """Where ``Prime`` reads events: the receiver's line listener."""

    def __init__(self):
        # Kept for old jobs that set them; the receiver's --http_port does this now.
        try:
            self.http_address = socket.gethostbyname(socket.gethostname())
        except OSError:
            self.http_address = "127.0.0.1"
        self.http_port = 8061
        # The receiver's line listener (--line_port / --line_listener=PORT:fpc)
        self.socket_address = os.environ.get("NGSI_BRIDGE_FPC_SOCKET_ADDRESS", "localhost")
        self.socket_port = int(os.environ.get("NGSI_BRIDGE_FPC_SOCKET_PORT", "9998"))
        self.request_completeness = True
        self.socket_buffer = 2048
        self.max_concurrent_connections = 20
        # ngsi-bridge: the receiver's gRPC address (StartConnector checks it when set)
        self.receiver_address = os.environ.get("NGSI_BRIDGE_RECEIVER", "")


class ReplierConfiguration(_Singleton):
    """How the Reply* functions write: headers, blueprint, and the replier to use."""

    def __init__(self):
        self.fiware_service = os.environ.get("NGSI_BRIDGE_FPC_SERVICE", "opcua_car")
        self.fiware_servicepath = os.environ.get("NGSI_BRIDGE_FPC_SERVICEPATH", "/demo")
        self.content_type = "application/json; charset=utf-8"
        self.blueprint_file = os.environ.get("NGSI_BRIDGE_FPC_BLUEPRINT", "Test.txt")
        self.placeholder_string = os.environ.get("NGSI_BRIDGE_FPC_PLACEHOLDER", "%%TOREPLACE%%")
        # ngsi-bridge: the replier (gRPC host:port) and, optionally, its broker name
        self.replier_address = os.environ.get("NGSI_BRIDGE_REPLIER", "localhost:50052")
        self.broker = os.environ.get("NGSI_BRIDGE_FPC_BROKER", "")


RECV_SINGLETON = ReceiverConfiguration()
REPL_SINGLETON = ReplierConfiguration()


### CONNECTOR BASE CLASSES (same constructors and fields as fpc.connectorconf) ###

class NGSIAttribute():

    def __init__(self, attrype, value, metadata):
        self.type = attrype
        self.value = value
        self.metadata = metadata

    def __repr__(self):
        return f"NGSIAttribute({self.type!r}, {self.value!r}, {self.metadata!r})"


class _NGSIEntity():
    """What both entity classes hold; not one of the old module's names."""

    def __init__(self, entityid, nodetype, attributes):
        self.id = entityid
        self.type = nodetype
        self.attrs = attributes


class NGSIEntityv2(_NGSIEntity):

    def __repr__(self):
        return f"NGSIEntityv2({self.id!r}, {self.type!r}, {self.attrs!r})"


class NGSIEntityLD(_NGSIEntity):

    def __init__(self, entityid, nodetype, attributes, context):
        self.context = context
        super().__init__(entityid, nodetype, attributes)

    def __repr__(self):
        return f"NGSIEntityLD({self.id!r}, {self.type!r}, {self.attrs!r}, {self.context!r})"


class _NGSIEvent():
    """What both event classes hold; not one of the old module's names."""

    def __init__(self, timestamp, svc, svcpath, entities):
        self.creationtime = timestamp
        self.service = svc
        self.servicePath = svcpath
        self.entities = entities


class NGSIEventLD(_NGSIEvent):
    pass


class NGSIEventv2(_NGSIEvent):
    pass


### RECEIVER SIDE ###

def parse_context(api_json: dict) -> Tuple[str, bool]:
    '''The NGSI-LD context of an ``fpc`` line (Link header, else body
    ``@context``) and whether the payload is NGSI-LD, as the old connector.'''
    context = api_json.get("Link", "")
    if context:
        return context, True
    body = api_json.get("Body", {})
    context = body.get("@context", "") if isinstance(body, dict) else ""
    if context:
        return context, True
    return "", False


def _attribute(raw: Any) -> NGSIAttribute:
    if not isinstance(raw, dict):  # keyValues: the old connector failed here
        return NGSIAttribute("", raw, {})
    if raw.get("type") == "Relationship" and "object" in raw:
        return NGSIAttribute(raw["type"], raw["object"], raw.get("metadata", {}))
    return NGSIAttribute(raw.get("type", ""), raw.get("value"), raw.get("metadata", {}))


def parse_entities(api_json: dict) -> List[Union[NGSIEntityv2, NGSIEntityLD]]:
    '''The entities of an ``fpc`` line (``{"Body": {"data": [...]}, ...}``).'''
    body = api_json.get("Body", {})
    entities_data = body.get("data", []) if isinstance(body, dict) else []
    context, is_ld = parse_context(api_json)
    entities = []
    for ent in entities_data:
        attributes = {key: _attribute(raw) for key, raw in ent.items()
                      if key not in ("id", "type", "@context")}
        if is_ld:
            entities.append(NGSIEntityLD(ent.get("id"), ent.get("type"), attributes, context))
        else:
            entities.append(NGSIEntityv2(ent.get("id"), ent.get("type"), attributes))
    return entities


def _from_event_json(doc: dict) -> Union[NGSIEventv2, NGSIEventLD]:
    """An ``event-json`` line (the receiver's default line format) as an old-style event."""
    from ngsi_bridge import convert
    from ngsi_bridge.v1 import ngsi_pb2
    event = convert.event_from_json(json.dumps(doc))
    timestamp = doc.get("notifiedAt") or doc.get("receivedAt", "")
    is_ld = event.flavor == ngsi_pb2.NGSI_LD
    contexts = [convert.from_value(c) for c in event.contexts]
    context = contexts[0] if len(contexts) == 1 else (contexts or "")
    entities = []
    for entity in event.entities:
        attributes = {}
        for name, attr in entity.attrs.items():
            raw = convert.attribute_to_dict(attr)
            if not isinstance(raw, dict):
                attributes[name] = NGSIAttribute(attr.type, raw, {})
                continue
            value = raw.get("object") if "object" in raw and "value" not in raw else raw.get("value")
            attributes[name] = NGSIAttribute(raw.get("type", ""), value, raw.get("metadata", {}))
        eid = entity.id if entity.HasField("id") else None
        etype = entity.type if entity.HasField("type") else None
        if is_ld:
            entities.append(NGSIEntityLD(eid, etype, attributes, context))
        else:
            entities.append(NGSIEntityv2(eid, etype, attributes))
    cls = NGSIEventLD if is_ld else NGSIEventv2
    return cls(timestamp, event.service, event.service_path, entities)


def parse(structured_NGSI_request: str) -> Union[NGSIEventv2, NGSIEventLD]:
    '''One socket line as an ``NGSIEventv2``/``NGSIEventLD``.

    Accepts the old connector's line (``fpc`` format: headers plus ``Body``),
    the receiver's ``event-json`` line, and a bare notification body.'''
    api_json = json.loads(structured_NGSI_request)
    if isinstance(api_json, dict) and "Body" not in api_json and (
            "sequence" in api_json or "receivedAt" in api_json):
        return _from_event_json(api_json)
    if isinstance(api_json, dict) and "Body" not in api_json and "data" in api_json:
        api_json = {"Body": api_json}  # body-only line (request_completeness=False)
    timestamp = api_json.get("timestamp", "")
    service = api_json.get("Fiware-Service", "")
    service_path = api_json.get('Fiware-Servicepath', "")
    entities = parse_entities(api_json)
    _, is_ld = parse_context(api_json)
    if is_ld:
        return NGSIEventLD(timestamp, service, service_path, entities)
    return NGSIEventv2(timestamp, service, service_path, entities)


def StartConnector():
    '''Nothing to start: ngsi-receiver is the connector. Checks that the line
    listener at RECV_SINGLETON.socket_address:socket_port accepts connections and
    raises ConnectionError with what to do when it does not.'''
    address = (RECV_SINGLETON.socket_address, int(RECV_SINGLETON.socket_port))
    try:
        with socket.create_connection(address, timeout=5):
            pass
    except OSError as exc:
        raise ConnectionError(
            f"no ngsi-receiver line listener at {address[0]}:{address[1]} ({exc}): start "
            "ngsi-receiver (--line_port, format fpc or event-json) or set "
            "RECV_SINGLETON.socket_address/socket_port (NGSI_BRIDGE_FPC_SOCKET_ADDRESS/_PORT)") from None
    print(f"ngsi-bridge receiver line listener at: {address}")


def Prime(sparkcontext, sliding_window_seconds: float, storage) -> Tuple[Any, Any]:
    '''Returns ``(DStream of NGSIEventv2/NGSIEventLD, StreamingContext)`` as the
    old connector, reading the receiver's line listener.'''
    from pyspark.streaming import StreamingContext
    StartConnector()
    configuration = RECV_SINGLETON
    ssc = StreamingContext(sparkcontext, sliding_window_seconds)
    record = ssc.socketTextStream(configuration.socket_address, int(configuration.socket_port),
                                  storageLevel=storage)
    NGSI_event = record.filter(lambda x: bool(x.strip())).map(lambda x: parse(x))
    return NGSI_event, ssc


### REPLIER SIDE ###

def listify(values: Any) -> List[Any]:
    if type(values) != list:
        values = [values]
    return values


def replaceJSON(values: Any) -> str:
    '''The blueprint file with each placeholder replaced by the next value.'''
    conf = REPL_SINGLETON
    values = listify(values)
    with open(conf.blueprint_file, "r") as blueprint_file:
        blueprint_content = blueprint_file.read()
        blueprint_content = blueprint_content.replace("\n", " ")
        for v in values:
            blueprint_content = blueprint_content.replace(conf.placeholder_string, str(v), 1)
    return blueprint_content


_clients: dict = {}
_clients_lock = threading.Lock()


def _replier() -> Any:
    from ngsi_bridge.replier import ReplierClient
    address = REPL_SINGLETON.replier_address
    with _clients_lock:
        if address not in _clients:
            _clients[address] = ReplierClient(address, timeout=60)
        return _clients[address]


def _broker_for(client: Any, api_url: str) -> str:
    if REPL_SINGLETON.broker:
        return REPL_SINGLETON.broker
    brokers = client.list_brokers()
    target = urlsplit(api_url)
    for broker in brokers:
        base = urlsplit(broker.url)
        if (base.hostname, base.port or 80) == (target.hostname, target.port or 80) \
                and target.path.startswith(base.path.rstrip("/")):
            return broker.name
    if len(brokers) == 1:
        return brokers[0].name
    raise ValueError(
        f"no replier broker matches {api_url} (configured: "
        f"{[(b.name, b.url) for b in brokers]}): set REPL_SINGLETON.broker or NGSI_BRIDGE_FPC_BROKER")


def sendRequest(message: str, api_url: str, api_method: str) -> str:
    '''Sends ``message`` with ``api_method`` to ``api_url`` through the replier;
    returns the response text, or the exception (as the old connector did).'''
    conf = REPL_SINGLETON
    headers = {"Content-Type": conf.content_type,
               "Fiware-Service": conf.fiware_service,
               "Fiware-Servicepath": conf.fiware_servicepath}
    try:
        if api_method not in ("POST", "PUT", "PATCH"):
            raise ValueError("Method not allowed")
        client = _replier()
        target = urlsplit(api_url)
        broker = _broker_for(client, api_url)
        base_path = ""
        for b in client.list_brokers():
            if b.name == broker:
                base_path = urlsplit(b.url).path.rstrip("/")
        path = target.path[len(base_path):] if base_path and target.path.startswith(base_path) \
            else target.path
        reply = client.passthrough(api_method, path or "/", body=message, query=target.query,
                                   headers=headers, broker=broker)
        return reply.body
    except Exception as e:
        return e


def ReplyToBroker(values: Any, api_url: str, api_method: str) -> str:
    '''Fills the blueprint file's placeholders with ``values`` (in order) and sends it.'''
    message = replaceJSON(values)
    return sendRequest(message, api_url, api_method)


def SemistructuredReplyToBroker(values: Any, body: str, api_url: str, api_method: str) -> str:
    '''Fills ``body``'s placeholders with ``values`` (in order) and sends it.'''
    values = listify(values)
    for v in values:
        body = body.replace(REPL_SINGLETON.placeholder_string, str(v), 1)
    return sendRequest(body, api_url, api_method)


def UnstructuredReplyToBroker(body: str, api_url: str, api_method: str) -> str:
    '''Sends ``body`` as is.'''
    return sendRequest(body, api_url, api_method)
