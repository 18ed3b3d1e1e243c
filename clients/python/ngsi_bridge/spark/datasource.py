"""The ``ngsi`` streaming data source: ngsi-receiver events over gRPC, with
receiver sequences as offsets.

    from ngsi_bridge.spark import register
    register(spark)
    df = (spark.readStream.format("ngsi")
          .option("address", "127.0.0.1:50051")       # the receiver's --grpc_port
          .option("startingPosition", "earliest")     # latest | earliest | <sequence>
          .option("entityType", "Room")               # optional server-side filters
          .load())                                    # one row per entity, ENTITY_ROW_SCHEMA

An offset is ``{"sequence": N}``: every event up to and including N has been
planned. A micro-batch (start, end] is read with ``Subscribe(start=AFTER
start, end_sequence=end)``, which replays exactly those events, so a query
restarted from its checkpoint re-reads nothing it committed and loses
nothing, as long as the receiver still retains the events (otherwise the
query fails with an error naming the lost range, unless
``failOnDataLoss=false``).

Options: ``address`` (required), ``startingPosition``, ``maxEventsPerTrigger``
(sequences per micro-batch), ``numPartitions`` (split each batch's sequence
range into this many tasks), ``failOnDataLoss`` (default true), and the
filters ``service``, ``servicePathPrefix``, ``entityType``, ``entityId``,
``entityIdPattern``, ``attrs`` (comma-separated projection).
"""
from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Iterator, Optional, Sequence

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.types import StructType

from ngsi_bridge.spark.socket_source import ENTITY_ROW_SCHEMA

try:  # PySpark >= 4.2
    from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows
except ImportError:  # pragma: no cover - PySpark 4.0/4.1
    ReadAllAvailable = ReadMaxRows = None  # type: ignore[assignment,misc]

_FILTER_OPTIONS = {"service": "service", "servicepathprefix": "service_path_prefix",
                   "entitytype": "entity_type", "entityid": "entity_id",
                   "entityidpattern": "entity_id_pattern"}


class SequenceRange(InputPartition):
    """Events with ``after < sequence <= end`` (picklable)."""

    def __init__(self, after: int, end: int):
        super().__init__((after, end))
        self.after = after
        self.end = end


def _options(options: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in dict(options).items()}


def _value_text(attr: Any) -> Optional[str]:
    from ngsi_bridge.view import AttributeView
    value = AttributeView(attr).value
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return json.dumps(value, separators=(",", ":"))


def _timestamp(ts: Any) -> Optional[_dt.datetime]:
    if not ts.seconds and not ts.nanos:
        return None
    return _dt.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=_dt.timezone.utc)


def event_rows(event: Any) -> Iterator[tuple]:
    """The rows (``ENTITY_ROW_SCHEMA``) of one ``NgsiEvent``: one per entity, or
    one with null entity columns for an event without entities (custom body)."""
    from ngsi_bridge import convert
    from ngsi_bridge.v1 import ngsi_pb2
    head = (int(event.sequence), _timestamp(event.received_at), _timestamp(event.notified_at),
            event.subscription_id, event.service, event.service_path, event.correlator,
            ngsi_pb2.Flavor.Name(event.flavor), ngsi_pb2.Format.Name(event.format))
    if not event.entities:
        yield head + (None, None, None, {}, json.dumps({"body": event.body}) if event.body else None)
        return
    for index, entity in enumerate(event.entities):
        attrs = {name: _value_text(attr) for name, attr in entity.attrs.items()}
        yield head + (index, entity.id if entity.HasField("id") else None,
                      entity.type if entity.HasField("type") else None, attrs,
                      json.dumps(convert.entity_to_dict(entity), separators=(",", ":")))


class NgsiStreamReader(DataSourceStreamReader):
    """Plans micro-batches from ``EventStream.Info`` and reads them with
    ``Subscribe(AFTER, end_sequence)``. Driver-side methods run in Spark's
    planner process; ``read`` runs in executors."""

    def __init__(self, options: dict[str, str]):
        self.address = options.get("address", "")
        if not self.address:
            raise ValueError('the ngsi source needs .option("address", "<receiver host>:<grpc port>")')
        self.starting = options.get("startingposition", "latest").strip().lower()
        self.max_events = int(options.get("maxeventspertrigger", "0") or 0)
        self.num_partitions = max(1, int(options.get("numpartitions", "1") or 1))
        self.fail_on_data_loss = options.get("failondataloss", "true").lower() != "false"
        self.filter = {field: options[key] for key, field in _FILTER_OPTIONS.items() if key in options}
        attrs = options.get("attrs", "")
        self.attrs = [a.strip() for a in attrs.split(",") if a.strip()]
        self._subscriber: Any = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_subscriber"] = None  # a gRPC channel does not pickle
        return state

    def _info(self) -> Any:
        from ngsi_bridge.subscriber import EventSubscriber
        if self._subscriber is None:
            self._subscriber = EventSubscriber(self.address, "earliest")
        return self._subscriber.info()

    def initialOffset(self) -> dict:
        info = self._info()
        if self.starting == "latest":
            return {"sequence": int(info.latest_sequence)}
        if self.starting == "earliest":
            return {"sequence": max(int(info.earliest_sequence) - 1, 0)}
        if self.starting.isdigit():
            return {"sequence": int(self.starting)}
        raise ValueError(f"startingPosition={self.starting!r}: use latest, earliest or a sequence number")

    def latestOffset(self, start: Optional[dict] = None, limit: Any = None) -> dict:
        latest = int(self._info().latest_sequence)
        if start is None:  # PySpark 4.0/4.1 call latestOffset() without arguments
            return {"sequence": latest}
        begin = int(start["sequence"])
        cap = self.max_events
        if ReadMaxRows is not None and isinstance(limit, ReadMaxRows):
            cap = int(getattr(limit, "max_rows", getattr(limit, "maxRows", 0)))
        elif ReadAllAvailable is not None and isinstance(limit, ReadAllAvailable):
            cap = 0
        if cap > 0:
            latest = min(latest, begin + cap)
        return {"sequence": max(latest, begin)}

    def getDefaultReadLimit(self) -> Any:
        if self.max_events > 0 and ReadMaxRows is not None:
            return ReadMaxRows(self.max_events)
        return ReadAllAvailable() if ReadAllAvailable is not None else None

    def reportLatestOffset(self) -> Optional[dict]:
        try:
            return {"sequence": int(self._info().latest_sequence)}
        except Exception:  # reporting only: never fail the query for it
            return None

    def partitions(self, start: dict, end: dict) -> Sequence[InputPartition]:
        after, last = int(start["sequence"]), int(end["sequence"])
        if last <= after:
            return []
        count = min(self.num_partitions, last - after)
        step, extra = divmod(last - after, count)
        ranges, lower = [], after
        for i in range(count):
            upper = lower + step + (1 if i < extra else 0)
            ranges.append(SequenceRange(lower, upper))
            lower = upper
        return ranges

    def read(self, partition: SequenceRange) -> Iterator[tuple]:
        from ngsi_bridge.errors import EventsLostError
        from ngsi_bridge.subscriber import EventSubscriber
        subscriber = EventSubscriber(self.address, "after", after_sequence=partition.after,
                                     end_sequence=partition.end, attrs=self.attrs, **self.filter)
        try:
            for event in subscriber.events():
                if event.sequence > partition.end:
                    break
                yield from event_rows(event)
        except EventsLostError as exc:
            if self.fail_on_data_loss:
                raise EventsLostError(
                    f"events ({partition.after}, {partition.end}] are no longer retained by the "
                    f"receiver at {self.address}: {exc}. Restart the query with a new checkpoint, "
                    "or set .option('failOnDataLoss', 'false') to skip them",
                    partition.after, exc.earliest) from None
            if exc.earliest and exc.earliest <= partition.end:
                retry = EventSubscriber(self.address, "after", after_sequence=exc.earliest - 1,
                                        end_sequence=partition.end, attrs=self.attrs, **self.filter)
                try:
                    for event in retry.events():
                        yield from event_rows(event)
                finally:
                    retry.close()
        finally:
            subscriber.close()

    def commit(self, end: dict) -> None:
        pass  # the receiver keeps no per-consumer state: the checkpoint is the offset

    def stop(self) -> None:
        if self._subscriber is not None:
            self._subscriber.close()
            self._subscriber = None


class NgsiDataSource(DataSource):
    """``spark.readStream.format("ngsi")``; see the module docstring for options."""

    @classmethod
    def name(cls) -> str:
        return "ngsi"

    def schema(self) -> StructType:
        return ENTITY_ROW_SCHEMA

    def streamReader(self, schema: StructType) -> NgsiStreamReader:
        return NgsiStreamReader(_options(self.options))


def register(spark: Any) -> None:
    """Registers the ``ngsi`` source on ``spark`` (once per session)."""
    spark.dataSource.register(NgsiDataSource)
