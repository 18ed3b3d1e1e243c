"""The Spark helpers without a cluster: the `ngsi` source's offset planning and
reads against a fake receiver, row -> entity mapping, and (local[1]) the
event-json parser for the socket source."""
import datetime as dt
import json
import pickle

import pytest

pytest.importorskip("pyspark")

from fakes import make_event  # noqa: E402
from ngsi_bridge.spark.datasource import NgsiStreamReader, SequenceRange, event_rows  # noqa: E402
from ngsi_bridge.spark.writer import ReplierWriter, row_to_entity  # noqa: E402
from ngsi_bridge.errors import EventsLostError, ReplierError  # noqa: E402


def reader(address, **options):
    return NgsiStreamReader({"address": address, **{k.lower(): str(v) for k, v in options.items()}})


def test_initial_offsets(fake_receiver):
    fake_receiver.servicer.append(*[make_event(i) for i in range(4, 9)])
    fake_receiver.servicer.earliest = 4
    assert reader(fake_receiver.address).initialOffset() == {"sequence": 8}
    assert reader(fake_receiver.address, startingPosition="earliest").initialOffset() == {"sequence": 3}
    assert reader(fake_receiver.address, startingPosition="5").initialOffset() == {"sequence": 5}
    with pytest.raises(ValueError, match="startingPosition"):
        reader(fake_receiver.address, startingPosition="soon").initialOffset()


def test_latest_offset_respects_limits(fake_receiver):
    from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows
    fake_receiver.servicer.append(*[make_event(i) for i in range(1, 21)])
    r = reader(fake_receiver.address, maxEventsPerTrigger=5)
    assert r.latestOffset({"sequence": 2}, r.getDefaultReadLimit()) == {"sequence": 7}
    assert r.latestOffset({"sequence": 2}, ReadAllAvailable()) == {"sequence": 20}
    assert r.latestOffset({"sequence": 18}, ReadMaxRows(5)) == {"sequence": 20}
    assert r.latestOffset() == {"sequence": 20}


def test_partitions_split_the_range_exactly():
    r = NgsiStreamReader({"address": "x:1", "numpartitions": "3"})
    parts = r.partitions({"sequence": 10}, {"sequence": 20})
    assert [(p.after, p.end) for p in parts] == [(10, 14), (14, 17), (17, 20)]
    assert r.partitions({"sequence": 5}, {"sequence": 5}) == []
    assert [(p.after, p.end) for p in r.partitions({"sequence": 0}, {"sequence": 2})] == [(0, 1), (1, 2)]


def test_read_returns_exactly_the_range_even_across_drops(fake_receiver):
    fake_receiver.servicer.append(*[make_event(i, f"E{i}", temperature=i) for i in range(1, 31)])
    fake_receiver.servicer.drop_after = 4
    r = pickle.loads(pickle.dumps(reader(fake_receiver.address)))  # as shipped to executors
    rows = list(r.read(SequenceRange(10, 25)))
    assert [row[0] for row in rows] == list(range(11, 26))
    seq, received, *_ = rows[0]
    assert received == dt.datetime.fromtimestamp(1_700_000_011, tz=dt.timezone.utc)
    assert rows[0][10:13] == ("E11", "Room", {"temperature": "11"})
    assert json.loads(rows[0][13])["temperature"] == {"type": "Number", "value": 11.0}


def test_read_of_lost_range_fails_unless_allowed(fake_receiver):
    fake_receiver.servicer.append(*[make_event(i) for i in range(6, 9)])
    fake_receiver.servicer.earliest = 6
    with pytest.raises(EventsLostError, match="failOnDataLoss"):
        list(reader(fake_receiver.address).read(SequenceRange(2, 8)))
    rows = list(reader(fake_receiver.address, failOnDataLoss="false").read(SequenceRange(2, 8)))
    assert [r[0] for r in rows] == [6, 7, 8]


def test_reader_pickles_after_talking_to_the_receiver(fake_receiver):
    r = reader(fake_receiver.address)
    r.initialOffset()
    assert pickle.loads(pickle.dumps(r)).address == fake_receiver.address


def test_event_without_entities_gives_one_row():
    from ngsi_bridge.v1 import ngsi_pb2
    (row,) = list(event_rows(ngsi_pb2.NgsiEvent(sequence=9, format=ngsi_pb2.CUSTOM, body="hi")))
    assert row[0] == 9 and row[8] == "CUSTOM" and row[10] is None and json.loads(row[13]) == {"body": "hi"}


def test_row_to_entity_infers_types_and_skips_nulls():
    row = {"entity_id": "E1", "entity_type": "T", "score": 0.5, "label": "x", "flag": True,
           "at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "missing": None}
    assert row_to_entity(row) == {
        "id": "E1", "type": "T", "score": {"type": "Number", "value": 0.5},
        "label": {"type": "Text", "value": "x"}, "flag": {"type": "Boolean", "value": True},
        "at": {"type": "DateTime", "value": "2026-01-01T00:00:00Z"}}
    assert row_to_entity({"id": "E", "s": 1}, entity_type="K", attrs={"s": "Integer"}) == \
        {"id": "E", "type": "K", "s": {"type": "Integer", "value": 1}}
    with pytest.raises(ReplierError, match="id_col"):
        row_to_entity({"x": 1})


def test_writer_batches_rows_and_raises_on_failures(fake_replier):
    writer = pickle.loads(pickle.dumps(ReplierWriter(fake_replier.address, "orion", batch_size=3,
                                                     entity_type="T")))
    result = writer.write_rows(({"id": f"E{i}", "v": i} for i in range(7)), correlator="c")
    assert result.succeeded == 7
    assert [len(r.entities) for r in fake_replier.servicer.requests] == [3, 3, 1]
    assert fake_replier.servicer.requests[0].correlator == "c"
    with pytest.raises(ReplierError, match="bad9"):
        writer.write_rows([{"id": "bad9", "v": 1}])


@pytest.mark.spark
def test_socket_parser_explodes_event_json_lines_into_entity_rows():
    from pyspark.sql import SparkSession
    from ngsi_bridge.spark.socket_source import entity_rows, parse_event_json
    spark = (SparkSession.builder.master("local[1]").appName("ngsi-bridge-parser-test")
             .config("spark.ui.enabled", "false").config("spark.driver.memory", "512m")
             .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    try:
        lines = [json.dumps({"sequence": "5", "receivedAt": "2026-11-25T10:00:00.123Z",
                             "service": "s", "servicePath": "/p", "flavor": "NGSI_V2",
                             "format": "NORMALIZED", "entities": [
                                 {"id": "R1", "type": "Room", "attrs": {
                                     "t": {"type": "Number", "value": 23.5},
                                     "name": {"type": "Text", "value": "kitchen"},
                                     "loc": {"type": "StructuredValue", "value": {"a": 1}}}},
                                 {"id": "R2", "type": "Room", "attrs": {}}]}),
                 "not json"]
        df = spark.createDataFrame([(line,) for line in lines], "value string")
        rows = entity_rows(parse_event_json(df)).orderBy("entity_index").collect()
        assert [r.entity_id for r in rows] == ["R1", "R2"]
        assert rows[0].sequence == 5 and rows[0].service_path == "/p"
        assert rows[0].attrs == {"t": "23.5", "name": "kitchen", "loc": '{"a":1}'}
        assert rows[0].received_at is not None
    finally:
        spark.stop()


@pytest.mark.spark
def test_entity_ordered_puts_each_entitys_updates_in_one_partition_in_sequence_order():
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("ngsi-bridge-order-test")
             .config("spark.ui.enabled", "false").config("spark.driver.memory", "512m")
             .getOrCreate())
    try:
        # Like a micro-batch read as two sequence ranges: the creations in one
        # partition, the later updates of the same entities in the other.
        rows = [(f"E{i}", round_ * 10 + i, float(round_)) for round_ in range(2) for i in range(10)]
        df = spark.createDataFrame(rows, "entity_id string, sequence long, v double").repartition(2)
        df = spark.createDataFrame(list(reversed(rows)), "entity_id string, sequence long, v double") \
            .coalesce(1).union(df)
        writer = ReplierWriter("127.0.0.1:1", "orion")
        partitions = writer.entity_ordered(df).rdd.glom().collect()
        home = {}
        for index, part in enumerate(partitions):
            for row in part:
                assert home.setdefault(row.entity_id, index) == index, f"{row.entity_id} split"
            for entity in {r.entity_id for r in part}:
                sequences = [r.sequence for r in part if r.entity_id == entity]
                assert sequences == sorted(sequences), f"{entity} out of order: {sequences}"
        assert sorted(home) == sorted(f"E{i}" for i in range(10))
        assert sum(len(p) for p in partitions) == 40
        unordered = ReplierWriter("127.0.0.1:1", "orion", order_col="absent")
        assert unordered.entity_ordered(df).count() == 40  # no order column: still every row
    finally:
        spark.stop()


def test_foreach_batch_marks_written_batches_and_skips_replays(fake_replier, tmp_path):
    class FakeBatch:  # what foreach_batch needs of a DataFrame
        def __init__(self, rows):
            self.rows = rows

        def foreachPartition(self, fn):
            fn(iter(self.rows))

    writer = ReplierWriter(fake_replier.address, "orion", entity_type="T",
                           batch_log_dir=str(tmp_path / "written"))
    writer.foreach_batch(FakeBatch([{"id": "A", "v": 1}, {"id": "B", "v": 2}]), 7)
    writer.foreach_batch(FakeBatch([{"id": "A", "v": 1}, {"id": "B", "v": 2}]), 7)  # replay
    writer.foreach_batch(FakeBatch([{"id": "C", "v": 3}]), 8)
    assert [[e.id for e in r.entities] for r in fake_replier.servicer.requests] == [["A", "B"], ["C"]]
    assert fake_replier.servicer.requests[0].correlator == "spark-batch-7"
    assert writer.skipped_batches == [7]
    assert sorted(p.name for p in (tmp_path / "written").iterdir()) == ["7.done", "8.done"]
