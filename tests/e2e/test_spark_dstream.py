"""DStreams (deprecated since Spark 3.4, still shipped and working in PySpark 4.3):
a job on socketTextStream with the receiver's event-json lines, and an old
FIWARE PySpark Connector job that only swaps `from fpc import connector` for
`from ngsi_bridge.compat import fpc as connector`, reading the receiver's `fpc`
line listener and replying through ngsi-replier's Passthrough."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.e2e]

from tests.e2e.spark_support import ROOT, require_replier, wait_until  # noqa: E402
from ngsi_bridge.demo.stack import BrokerClient, Stack  # noqa: E402


def warm_up(broker, entity_type, attr, is_back, timeout=60):
    """Line listeners stream live events only: feed probe updates until one
    comes back, proving the Spark socket receiver is connected."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        broker.upsert([{"id": f"urn:{entity_type}:probe", "type": entity_type,
                        attr: {"type": "Number", "value": n}}])
        end = time.monotonic() + 2
        while time.monotonic() < end:
            if is_back():
                return
            time.sleep(0.25)
    raise AssertionError("the Spark job never received a probe event: is it connected to the line listener?")


def test_dstream_event_stream_on_event_json_lines(spark):
    from pyspark.streaming import StreamingContext
    from ngsi_bridge.spark.dstream import event_stream
    from ngsi_bridge.spark.writer import ReplierWriter

    with Stack() as stack:
        require_replier(stack, lambda client: client.list_brokers())
        broker = stack.broker
        broker.create_subscription(stack.notify_url, "Boiler", ["pressure"])
        seen: list = []
        ssc = StreamingContext(spark.sparkContext, 1)
        events = event_stream(ssc, "127.0.0.1", stack.line_port("event-json"))
        scored = events.flatMap(lambda e: [
            (ent.id, ent.type, ent.attrs["pressure"].value, e.sequence) for ent in e.entities])
        writer = ReplierWriter(stack.replier_grpc, stack.broker_name, "upsert", to_entity=lambda t: {
            "id": t[0], "type": t[1],
            "pressure_alarm": {"type": "Boolean", "value": t[2] > 5},
            "pressure_kpa": {"type": "Number", "value": t[2] * 100}})

        def on_rdd(rdd):
            rdd.foreachPartition(writer)
            seen.extend(rdd.collect())

        scored.foreachRDD(on_rdd)
        ssc.start()
        try:
            warm_up(broker, "Boiler", "pressure",
                    lambda: any(s[0].endswith("probe") for s in seen))
            for i in range(12):
                broker.upsert([{"id": f"urn:Boiler:{i}", "type": "Boiler",
                                "pressure": {"type": "Number", "value": i}}])

            def back():
                stored = {e["id"]: e for e in broker.entities("Boiler")}
                return all(stored.get(f"urn:Boiler:{i}", {}).get("pressure_kpa", {}).get("value")
                           == i * 100 for i in range(12))

            wait_until(back, 60, "every boiler update written back")
        finally:
            ssc.stop(stopSparkContext=False, stopGraceFully=False)
        stored = {e["id"]: e for e in broker.entities("Boiler")}
        assert [stored[f"urn:Boiler:{i}"]["pressure_alarm"]["value"] for i in range(12)] == \
            [i > 5 for i in range(12)]
        real = [s for s in seen if not s[0].endswith("probe")]
        assert sorted(s[0] for s in real) == sorted(f"urn:Boiler:{i}" for i in range(12))
        sequences = [s[3] for s in real]
        assert sequences == sorted(sequences) and len(set(sequences)) == 12


OLD_JOB = '''
# A job written for the FIWARE PySpark Connector (fpc). The only change: the import line.
# from fpc import connector
from ngsi_bridge.compat import fpc as connector
from pyspark import SparkConf, SparkContext
from pyspark.storagelevel import StorageLevel
import sys

BROKER = sys.argv[1]          # e.g. "http://orion:1026"
RUN_SECONDS = float(sys.argv[2])

conf = SparkConf().setAppName("Old FPC job").setMaster("local[2]").set("spark.ui.enabled", "false")
sc = SparkContext(conf=conf)
sc.setLogLevel("ERROR")

event, ssc = connector.Prime(sc, 1, StorageLevel.MEMORY_AND_DISK_2)
entity = event.flatMap(lambda x: x.entities)

def predict(ent):
    celsius = ent.attrs["temperature"].value
    return ent.id, round(celsius * 1.8 + 32, 2)

def reply(pair):
    body = '{"fahrenheit": {"type": "Number", "value": %%TOREPLACE%%}}'
    url = BROKER + "/v2/entities/" + pair[0] + "/attrs"
    return connector.SemistructuredReplyToBroker(pair[1], body, url, "POST")

entity.map(predict).map(reply).pprint()

ssc.start()
ssc.awaitTerminationOrTimeout(RUN_SECONDS)
ssc.stop(stopSparkContext=True, stopGraceFully=False)
'''


def test_old_fpc_job_runs_with_only_its_import_changed(stack_binaries, tmp_path):
    job = tmp_path / "old_job.py"
    job.write_text(textwrap.dedent(OLD_JOB))
    with Stack(fpc_line=True) as stack:
        require_replier(stack, lambda client: client.list_brokers(),
                        lambda client: client.passthrough("GET", "/version"))
        # the old connector's defaults: Fiware-Service opcua_car, Fiware-ServicePath /demo
        broker = BrokerClient(stack.broker_url, service="opcua_car", service_path="/demo")
        broker.create_subscription(stack.notify_url, "Oven", ["temperature"])
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join([str(ROOT / "clients" / "python"), os.environ.get("PYTHONPATH", "")]),
               "NGSI_BRIDGE_FPC_SOCKET_ADDRESS": "127.0.0.1",
               "NGSI_BRIDGE_FPC_SOCKET_PORT": str(stack.line_port("fpc")),
               "NGSI_BRIDGE_REPLIER": stack.replier_grpc,
               "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
        process = subprocess.Popen([sys.executable, str(job), stack.broker_url, "50"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output: list = []
        threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
        try:
            def probe_back():
                return any("fahrenheit" in e for e in broker.entities("Oven"))

            warm_up(broker, "Oven", "temperature", probe_back, timeout=60)
            for i in range(8):
                broker.upsert([{"id": f"Oven{i}", "type": "Oven",
                                "temperature": {"type": "Number", "value": 100 + i}}])

            def back():
                stored = {e["id"]: e for e in broker.entities("Oven")}
                return all(stored.get(f"Oven{i}", {}).get("fahrenheit", {}).get("value")
                           == round((100 + i) * 1.8 + 32, 2) for i in range(8))

            wait_until(back, 60, "every oven's fahrenheit written back by the old job:\n"
                       + "".join(output[-30:]))
        finally:
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert process.returncode == 0, "".join(output[-40:])
