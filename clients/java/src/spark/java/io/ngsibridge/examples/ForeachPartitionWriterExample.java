package io.ngsibridge.examples;

import com.google.protobuf.Value;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.ngsibridge.client.EntityWriter;
import io.ngsibridge.client.ReplierClient;
import io.ngsibridge.client.WriteResult;
import io.ngsibridge.v1.Attribute;
import io.ngsibridge.v1.Entity;
import io.ngsibridge.v1.Operation;
import io.ngsibridge.v1.WriteRequest;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.function.ForeachPartitionFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Writes a DataFrame back to a broker from the Spark workers: each partition opens one channel to
 * ngsi-replier and upserts its rows in batches, failing the task if any entity was rejected (Spark
 * then retries it; upsert is idempotent). Rows are (id, type, attribute, number).
 *
 * <pre>
 * ngsi-replier --broker=orion=http://orion:1026
 * spark-submit --class io.ngsibridge.examples.ForeachPartitionWriterExample \
 *   --jars ngsi-bridge-client.jar app.jar ngsi-replier:50052 orion predictions.csv
 * </pre>
 */
public final class ForeachPartitionWriterExample {
  private ForeachPartitionWriterExample() {}

  /** The per-partition writer; serializable, so it travels to the executors. */
  public static final class UpsertPartition implements ForeachPartitionFunction<Row> {
    private static final long serialVersionUID = 1L;
    private final String replierAddress;
    private final String broker;
    private final String service;
    private final String servicePath;
    private final int batchSize;

    public UpsertPartition(
        String replierAddress, String broker, String service, String servicePath, int batchSize) {
      this.replierAddress = replierAddress;
      this.broker = broker;
      this.service = service;
      this.servicePath = servicePath;
      this.batchSize = batchSize;
    }

    @Override
    public void call(Iterator<Row> rows) throws Exception {
      ManagedChannel channel = ManagedChannelBuilder.forTarget(replierAddress).usePlaintext().build();
      try {
        ReplierClient client = new ReplierClient(channel, broker);
        WriteRequest template = WriteRequest.newBuilder()
            .setOperation(Operation.OPERATION_UPSERT)
            .setService(service).setServicePath(servicePath).build();
        EntityWriter writer = client.newWriter(template, batchSize);
        try (writer) {
          while (rows.hasNext()) {
            writer.add(toEntity(rows.next()));
          }
        }
        WriteResult result = writer.result();
        result.throwIfFailed();
      } finally {
        channel.shutdown().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  /** (id, type, attribute, number) → an entity with one Number attribute. */
  public static Entity toEntity(Row row) {
    return Entity.newBuilder()
        .setId(row.getString(0))
        .setType(row.getString(1))
        .putAttrs(row.getString(2), Attribute.newBuilder().setType("Number")
            .setValue(Value.newBuilder().setNumberValue(((Number) row.get(3)).doubleValue()))
            .build())
        .build();
  }

  public static void main(String[] args) {
    String replier = args.length > 0 ? args[0] : "localhost:50052";
    String broker = args.length > 1 ? args[1] : "orion";
    String csv = args.length > 2 ? args[2] : "predictions.csv";
    SparkSession spark = SparkSession.builder().appName("ngsi-bridge foreachPartition").getOrCreate();
    Dataset<Row> rows = spark.read().option("header", true).option("inferSchema", true).csv(csv)
        .selectExpr("CAST(id AS STRING)", "CAST(type AS STRING)", "CAST(attribute AS STRING)",
            "CAST(value AS DOUBLE)");
    rows.foreachPartition(new UpsertPartition(replier, broker, "", "/", 100));
    spark.stop();
  }
}
