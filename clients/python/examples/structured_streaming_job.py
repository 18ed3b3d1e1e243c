"""The common ngsi-bridge PySpark job in a few lines: read events from
ngsi-receiver, compute, write results back through ngsi-replier.

    PYTHONPATH=clients/python python3 clients/python/examples/structured_streaming_job.py \
        --receiver 127.0.0.1:50051 --replier 127.0.0.1:50052 --broker orion --type Room

Every `Room` update yields `comfort` = temperature scaled to 0..1, upserted back.
Restart it with the same --checkpoint and it resumes where it stopped.
"""
import argparse

from pyspark.sql import functions as F

from ngsi_bridge.spark.datasource import register
from ngsi_bridge.spark.session import spark_session
from ngsi_bridge.spark.writer import ReplierWriter

parser = argparse.ArgumentParser()
parser.add_argument("--receiver", default="127.0.0.1:50051")
parser.add_argument("--replier", default="127.0.0.1:50052")
parser.add_argument("--broker", default="")
parser.add_argument("--type", default="Room")
parser.add_argument("--master", default="local[2]")
parser.add_argument("--checkpoint", default="/tmp/ngsi-bridge-example-checkpoint")
args = parser.parse_args()

spark = spark_session(args.master, "ngsi-bridge-example")
register(spark)
rooms = (spark.readStream.format("ngsi").option("address", args.receiver)
         .option("startingPosition", "latest").option("entityType", args.type).load())
comfort = rooms.select(
    "entity_id", "entity_type",
    F.least(F.greatest((F.col("attrs")["temperature"].cast("double") - 15) / 10, F.lit(0.0)),
            F.lit(1.0)).alias("comfort"))
writer = ReplierWriter(args.replier, args.broker, "upsert", id_col="entity_id", type_col="entity_type")
query = (comfort.writeStream.foreachBatch(writer.foreach_batch)
         .option("checkpointLocation", args.checkpoint).start())
query.awaitTermination()
