"""Write Spark results back to the broker through ngsi-replier, in batches.

    writer = ReplierWriter("127.0.0.1:50052", broker="orion", op="upsert",
                           entity_type="Room", attrs={"score": "Number"})
    query = df.writeStream.foreachBatch(writer.foreach_batch).start()
    # or, in a batch job:  df.foreachPartition(writer)

Each row becomes an entity: ``id_col`` (default ``"id"``, else
``"entity_id"``) and ``type_col`` (default ``"type"``, else
``"entity_type"`` or ``entity_type=``) name it; the other columns (or just
``attrs``) become attributes, typed ``Number``/``Text``/``Boolean``/
``StructuredValue`` unless ``attrs`` maps a column to an NGSI type. A custom
``to_entity(row) -> dict`` replaces all of that. Each partition sends one
``Replier.Write`` per ``batch_size`` entities. With ``on_error="raise"`` (default)
a partition whose entities were not all written fails its task, so Spark
retries it; idempotent operations (upsert, update, replace) make that safe.
``foreach_batch`` writes all rows of one entity from one task, in the order
of ``order_col`` (default ``"sequence"``, the receiver's event sequence,
when the micro-batch has it): a micro-batch holding two updates of one
entity ends with the later one at the broker, never the earlier.
The writer is picklable and opens one gRPC channel per executor process.
"""
from __future__ import annotations

import datetime as _dt
import logging
import threading
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from ngsi_bridge.errors import ReplierError

_log = logging.getLogger("ngsi_bridge.spark.writer")
_clients: dict = {}
_clients_lock = threading.Lock()


def _client(address: str, broker: str, timeout: float) -> Any:
    """One ReplierClient per (address, broker) per process (executors reuse it)."""
    from ngsi_bridge.replier import ReplierClient
    key = (address, broker, timeout)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = ReplierClient(address, broker, timeout=timeout)
        return _clients[key]


def _ngsi_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, (_dt.datetime, _dt.date)):
        return "DateTime"
    if isinstance(value, (dict, list, tuple)) or hasattr(value, "asDict"):
        return "StructuredValue"
    return "Text"


def _plain(value: Any) -> Any:
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def _column(names: Any, wanted: str, default: str, fallback: str) -> str:
    """``wanted``, or ``fallback`` when ``wanted`` is the default and absent
    from ``names`` while ``fallback`` is there (event rows name them
    ``entity_id`` / ``entity_type``)."""
    if wanted not in names and wanted == default and fallback in names:
        return fallback
    return wanted


def row_to_entity(row: Any, id_col: str = "id", type_col: str = "type",
                  entity_type: str = "", attrs: Union[Sequence[str], Mapping[str, str], None] = None,
                  skip_nulls: bool = True) -> dict:
    """A Row (or dict) as a normalized NGSI entity dict; see the module docstring."""
    data = row.asDict(recursive=False) if hasattr(row, "asDict") else dict(row)
    id_col = _column(data, id_col, "id", "entity_id")
    type_col = _column(data, type_col, "type", "entity_type")
    if data.get(id_col) is None:
        raise ReplierError(f"row has no {id_col!r} column value (columns: {sorted(data)}): "
                           "select an id column or pass id_col= / to_entity=")
    entity: dict = {"id": str(data[id_col])}
    etype = data.get(type_col) or entity_type
    if etype:
        entity["type"] = str(etype)
    if attrs is None:
        names = [c for c in data if c not in (id_col, type_col)]
        types: Mapping[str, str] = {}
    elif isinstance(attrs, Mapping):
        names, types = list(attrs), attrs
    else:
        names, types = list(attrs), {}
    for name in names:
        if name not in data:
            raise ReplierError(f"attribute column {name!r} is not in the row (columns: {sorted(data)})")
        raw = data[name]
        if raw is None and skip_nulls:
            continue
        entity[name] = {"type": types.get(name) or _ngsi_type(raw), "value": _plain(raw)}
    return entity


class ReplierWriter:
    """Picklable batch writer for ``foreachPartition`` and ``foreachBatch``.

    Args:
        address: the replier's gRPC ``host:port``.
        broker: the broker name configured on the replier ("" = its only broker).
        op: operation (``"upsert"`` by default; see ``ReplierClient.write``).
        service, service_path: tenant headers.
        batch_size: entities per ``Replier.Write``.
        id_col, type_col, entity_type, attrs: row -> entity mapping (``row_to_entity``).
        to_entity: a custom ``row -> dict | ngsi_pb2.Entity``, replacing the mapping.
        on_error: ``"raise"`` fails the task when an entity was not written;
            ``"log"`` logs and continues.
        batch_log_dir: a driver-side folder (for example inside the query's
            checkpoint) where ``foreach_batch`` marks each micro-batch it wrote
            completely. Spark replays the last micro-batch after a restart when
            its commit was not recorded (a stop or crash mid-batch); with the
            marks, a batch already written is skipped, so the broker receives
            each write once. Without it, replays repeat idempotent writes.
        order_col: the column that orders two rows of one entity in a
            micro-batch (``foreach_batch``); ignored when the batch lacks it.
    """

    def __init__(self, address: str, broker: str = "", op: str = "upsert", *,
                 service: str = "", service_path: str = "", batch_size: int = 500,
                 id_col: str = "id", type_col: str = "type", entity_type: str = "",
                 attrs: Union[Sequence[str], Mapping[str, str], None] = None,
                 to_entity: Optional[Callable[[Any], Any]] = None,
                 on_error: str = "raise", timeout: float = 60.0,
                 batch_log_dir: Optional[str] = None, order_col: str = "sequence"):
        if on_error not in ("raise", "log"):
            raise ValueError(f"on_error={on_error!r}: use 'raise' or 'log'")
        self.address, self.broker, self.op = address, broker, op
        self.service, self.service_path = service, service_path
        self.batch_size, self.timeout = batch_size, timeout
        self.id_col, self.type_col, self.entity_type = id_col, type_col, entity_type
        self.attrs = dict(attrs) if isinstance(attrs, Mapping) else (list(attrs) if attrs else None)
        self.to_entity = to_entity
        self.on_error = on_error
        self.batch_log_dir = batch_log_dir
        self.order_col = order_col
        self.skipped_batches: list = []  # driver-side: replayed batches not written again

    def entity(self, row: Any) -> Any:
        if self.to_entity is not None:
            return self.to_entity(row)
        return row_to_entity(row, self.id_col, self.type_col, self.entity_type, self.attrs)

    def write_rows(self, rows: Iterable[Any], correlator: str = "") -> Any:
        """Writes rows in batches; returns the aggregated ``WriteResult``."""
        from ngsi_bridge.replier import WriteResult
        client = _client(self.address, self.broker, self.timeout)
        total = WriteResult()
        batch: list = []

        def flush() -> None:
            result = client.write(batch, self.op, service=self.service,
                                  service_path=self.service_path, correlator=correlator,
                                  batch_size=self.batch_size)
            total.results.extend(result.results)
            total.succeeded += result.succeeded
            total.failed += result.failed
            total.broker_calls += result.broker_calls
            batch.clear()

        for row in rows:
            batch.append(self.entity(row))
            if len(batch) >= self.batch_size:
                flush()
        if batch:
            flush()
        if total.failed:
            if self.on_error == "raise":
                total.raise_for_errors()
            _log.warning("replier: %s", total)
        return total

    def entity_ordered(self, df: Any) -> Any:
        """``df`` with every row of one entity in one partition, sorted by
        ``order_col`` when ``df`` has it. Tasks run in parallel, so without
        this two updates of one entity read by different tasks would reach
        the broker in either order, and the earlier value could win."""
        columns = getattr(df, "columns", None)
        if columns is None:
            return df  # not a DataFrame: the caller's own partitions
        id_col = _column(columns, self.id_col, "id", "entity_id")
        if id_col not in columns:
            return df  # a custom to_entity names the entity some other way
        df = df.repartition(id_col)
        return df.sortWithinPartitions(self.order_col) if self.order_col in columns else df

    def __call__(self, rows: Iterable[Any]) -> None:
        """``df.foreachPartition(writer)``."""
        self.write_rows(rows)

    def foreach_batch(self, df: Any, batch_id: int) -> None:
        """``writeStream.foreachBatch(writer.foreach_batch)``: writes every row of the
        micro-batch from the executors; the correlator names the batch."""
        import os
        mark = os.path.join(self.batch_log_dir, f"{int(batch_id)}.done") if self.batch_log_dir else None
        if mark and os.path.exists(mark):
            _log.info("micro-batch %s was written before the restart: skipped", batch_id)
            self.skipped_batches.append(batch_id)
            return
        correlator = f"spark-batch-{batch_id}"
        writer = self

        def partition(rows: Iterable[Any]) -> None:
            writer.write_rows(rows, correlator)

        self.entity_ordered(df).foreachPartition(partition)
        if mark:
            os.makedirs(self.batch_log_dir, exist_ok=True)
            tmp = mark + ".tmp"
            with open(tmp, "w") as f:
                f.write(correlator + "\n")
            os.replace(tmp, mark)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["skipped_batches"] = []  # driver-side bookkeeping stays on the driver
        return state
