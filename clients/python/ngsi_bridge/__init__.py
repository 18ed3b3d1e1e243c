"""ngsi_bridge: the Python client of ngsi-bridge.

- ``EventSubscriber`` (``ngsi_bridge.subscriber``): events from ngsi-receiver,
  with start position, filters and automatic resume.
- ``ReplierClient`` (``ngsi_bridge.replier``): batched write-back through
  ngsi-replier with one result per entity.
- ``ngsi_bridge.convert``: dict <-> protobuf ``Entity``/``NgsiEvent``.
- ``ngsi_bridge.spark``: DStreams, Structured Streaming (socket and the
  ``ngsi`` Python data source) and a batching writer.
- ``ngsi_bridge.compat.fpc``: drop-in for the old ``fpc.connector`` API.

The generated stubs live in ``ngsi_bridge.v1`` (``ngsi_pb2``, ``receiver_pb2``,
``replier_pb2`` and their ``_grpc`` twins).
"""
from __future__ import annotations

from ngsi_bridge import _stubs

_stubs.ensure()

from ngsi_bridge.errors import NgsiBridgeError, ReceiverError, ReplierError  # noqa: E402
from ngsi_bridge.subscriber import EventSubscriber, Start  # noqa: E402
from ngsi_bridge.replier import ReplierClient, WriteResult, Operation  # noqa: E402
from ngsi_bridge.view import EventView, EntityView, AttributeView, view  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "EventSubscriber", "Start", "ReplierClient", "WriteResult", "Operation",
    "EventView", "EntityView", "AttributeView", "view",
    "NgsiBridgeError", "ReceiverError", "ReplierError",
]
