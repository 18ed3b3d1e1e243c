package io.ngsibridge.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ngsibridge.examples.StructuredStreamingSocketExample.AttributeRow;
import io.ngsibridge.v1.Entity;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The examples' row functions, without a Spark session. */
class SparkExamplesTest {
  @Test
  void flattensEventJsonLinesIntoAttributeRows() throws Exception {
    String line = "{\"sequence\":\"7\",\"service\":\"smartcity\",\"servicePath\":\"/madrid\","
        + "\"format\":\"NORMALIZED\",\"entities\":[{\"id\":\"Room1\",\"type\":\"Room\",\"attrs\":{"
        + "\"temperature\":{\"type\":\"Number\",\"value\":23.5},"
        + "\"name\":{\"type\":\"Text\",\"value\":\"hall\"}}}]}";
    List<AttributeRow> rows = StructuredStreamingSocketExample.flatten(
        List.of(line, "not json", "").iterator());
    assertEquals(2, rows.size());
    AttributeRow temperature = rows.stream()
        .filter(r -> r.getAttribute().equals("temperature")).findFirst().orElseThrow();
    assertEquals(7, temperature.getSequence());
    assertEquals("Room1", temperature.getEntityId());
    assertEquals(23.5, temperature.getNumber());
    AttributeRow name = rows.stream()
        .filter(r -> r.getAttribute().equals("name")).findFirst().orElseThrow();
    assertNull(name.getNumber());
    assertEquals("\"hall\"", name.getValueJson());
  }

  /** The receiver's own event-json lines, when the pytest passes them. */
  @Test
  void flattensTheReceiversLines() throws Exception {
    String path = System.getenv("NGSI_BRIDGE_EVENT_LINES");
    Assumptions.assumeTrue(path != null && !path.isEmpty(), "NGSI_BRIDGE_EVENT_LINES is not set");
    List<String> lines = Files.readAllLines(Path.of(path), StandardCharsets.UTF_8);
    assertFalse(lines.isEmpty());
    List<AttributeRow> rows = StructuredStreamingSocketExample.flatten(lines.iterator());
    assertTrue(rows.stream().anyMatch(r -> "Car".equals(r.getEntityType())
        && "speed".equals(r.getAttribute()) && r.getNumber() != null));
  }

  @Test
  void foreachPartitionRowsBecomeEntities() {
    Row row = RowFactory.create("Sensor1", "Sensor", "strength", 42.0);
    Entity e = ForeachPartitionWriterExample.toEntity(row);
    assertEquals("Sensor1", e.getId());
    assertEquals("Sensor", e.getType());
    assertEquals(42.0, e.getAttrsOrThrow("strength").getValue().getNumberValue());
    assertEquals("Number", e.getAttrsOrThrow("strength").getType());
  }
}
