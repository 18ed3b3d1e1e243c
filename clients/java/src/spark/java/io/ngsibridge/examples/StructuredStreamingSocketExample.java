package io.ngsibridge.examples;

import io.ngsibridge.client.EventJson;
import io.ngsibridge.v1.Attribute;
import io.ngsibridge.v1.Entity;
import io.ngsibridge.v1.NgsiEvent;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;

/**
 * Spark Structured Streaming job reading ngsi-receiver's {@code event-json} line listener with the
 * built-in socket source, one row per (event, entity, attribute), averaged per entity type and
 * attribute in a console sink.
 *
 * <pre>
 * ngsi-receiver --line_port=9998 --line_format=event-json
 * spark-submit --class io.ngsibridge.examples.StructuredStreamingSocketExample \
 *   --jars ngsi-bridge-client.jar app.jar localhost 9998
 * </pre>
 */
public final class StructuredStreamingSocketExample {
  private StructuredStreamingSocketExample() {}

  /** One attribute of one entity of one event; a Java bean for {@code Encoders.bean}. */
  public static final class AttributeRow implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private long sequence;
    private String service;
    private String servicePath;
    private String entityId;
    private String entityType;
    private String attribute;
    private Double number;
    private String valueJson;

    public long getSequence() { return sequence; }
    public void setSequence(long v) { sequence = v; }
    public String getService() { return service; }
    public void setService(String v) { service = v; }
    public String getServicePath() { return servicePath; }
    public void setServicePath(String v) { servicePath = v; }
    public String getEntityId() { return entityId; }
    public void setEntityId(String v) { entityId = v; }
    public String getEntityType() { return entityType; }
    public void setEntityType(String v) { entityType = v; }
    public String getAttribute() { return attribute; }
    public void setAttribute(String v) { attribute = v; }
    public Double getNumber() { return number; }
    public void setNumber(Double v) { number = v; }
    public String getValueJson() { return valueJson; }
    public void setValueJson(String v) { valueJson = v; }
  }

  /** Flattens one event-json line; lines that are not events yield nothing. */
  public static final FlatMapFunction<String, AttributeRow> FLATTEN = line -> {
    List<AttributeRow> rows = new ArrayList<>();
    NgsiEvent event;
    try {
      event = EventJson.parse(line);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      return rows.iterator();
    }
    for (Entity entity : event.getEntitiesList()) {
      for (Map.Entry<String, Attribute> a : entity.getAttrsMap().entrySet()) {
        AttributeRow row = new AttributeRow();
        row.setSequence(event.getSequence());
        row.setService(event.getService());
        row.setServicePath(event.getServicePath());
        row.setEntityId(entity.hasId() ? entity.getId() : null);
        row.setEntityType(entity.hasType() ? entity.getType() : null);
        row.setAttribute(a.getKey());
        if (a.getValue().getValue().hasNumberValue()) {
          row.setNumber(a.getValue().getValue().getNumberValue());
        }
        row.setValueJson(EventJson.toJson(a.getValue().getValue()));
        rows.add(row);
      }
    }
    return rows.iterator();
  };

  public static void main(String[] args) throws Exception {
    String host = args.length > 0 ? args[0] : "localhost";
    int port = args.length > 1 ? Integer.parseInt(args[1]) : 9998;
    SparkSession spark = SparkSession.builder().appName("ngsi-bridge event-json socket").getOrCreate();
    Dataset<Row> lines = spark.readStream().format("socket")
        .option("host", host).option("port", port).load();
    Dataset<AttributeRow> attrs = lines.as(Encoders.STRING())
        .flatMap(FLATTEN, Encoders.bean(AttributeRow.class));
    Dataset<Row> averages = attrs.filter("number IS NOT NULL")
        .groupBy("entityType", "attribute").avg("number");
    StreamingQuery query = averages.writeStream()
        .outputMode("complete").format("console").option("truncate", false).start();
    query.awaitTermination();
  }

  /** For tests and the REPL: the rows of some lines, without Spark. */
  public static List<AttributeRow> flatten(Iterator<String> lines) throws Exception {
    List<AttributeRow> out = new ArrayList<>();
    while (lines.hasNext()) {
      FLATTEN.call(lines.next()).forEachRemaining(out::add);
    }
    return out;
  }
}
