"""Exceptions raised by ngsi_bridge. Each message says what went wrong and what to do."""
from __future__ import annotations


class NgsiBridgeError(Exception):
    """Base class of every ngsi_bridge error."""


class ReceiverError(NgsiBridgeError):
    """ngsi-receiver refused or could not serve a request (see the message)."""


class EventsLostError(ReceiverError):
    """The requested start is no longer retained by the receiver.

    ``earliest`` is the earliest sequence the receiver still holds (0 if unknown);
    events between the requested position and it are gone, never silently skipped.
    """

    def __init__(self, message: str, requested_after: int, earliest: int = 0):
        super().__init__(message)
        self.requested_after = requested_after
        self.earliest = earliest


class ReplierError(NgsiBridgeError):
    """ngsi-replier refused a request or could not be reached."""


class ConversionError(NgsiBridgeError, ValueError):
    """A dict could not be turned into an NGSI entity (see the message for the field)."""
