package io.ngsibridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Value;
import io.ngsibridge.v1.Entity;
import io.ngsibridge.v1.Format;
import io.ngsibridge.v1.NgsiEvent;
import org.junit.jupiter.api.Test;

class EventJsonTest {
  // The example of ARCHITECTURE.md, format VALUES to exercise the renamed enum array.
  static final String LINE = "{\"sequence\":\"42\",\"receivedAt\":\"2026-11-25T10:00:00.123Z\","
      + "\"subscriptionId\":\"6717a1b2c3d4e5f60718293a\",\"service\":\"smartcity\","
      + "\"servicePath\":\"/madrid\",\"flavor\":\"NGSI_V2\",\"format\":\"VALUES\","
      + "\"entities\":[{\"id\":\"Room1\",\"type\":\"Room\",\"attrs\":{\"temperature\":"
      + "{\"type\":\"Number\",\"value\":23.5,\"metadata\":{\"unit\":{\"type\":\"Text\","
      + "\"value\":\"C\"}}}}}]}";

  @Test
  void parsesAndPrintsCanonically() throws Exception {
    NgsiEvent e = EventJson.parse(LINE);
    assertEquals(42, e.getSequence());
    assertEquals(Format.VALUES, e.getFormat());
    assertEquals(23.5, e.getEntities(0).getAttrsOrThrow("temperature").getValue().getNumberValue());
    assertEquals(EventJson.canonical(LINE), EventJson.canonical(e));
    assertEquals(e, EventJson.parse(EventJson.canonical(e)));
  }

  @Test
  void canonicalSortsKeysPrintsIntegersAndKeepsAbsentIdsAbsent() throws Exception {
    NgsiEvent e = NgsiEvent.newBuilder().setSequence(7).setFormat(Format.VALUES)
        .addEntities(Entity.newBuilder().addValues(Value.newBuilder().setNumberValue(3)))
        .build();
    String json = EventJson.canonical(e);
    assertEquals("{\"entities\":[{\"values\":[3]}],\"format\":\"VALUES\",\"sequence\":\"7\"}", json);
    assertFalse(EventJson.parse(json).getEntities(0).hasId());
    assertTrue(EventJson.canonical("{\"b\":1.50,\"a\":[2.0,1e3]}").equals("{\"a\":[2,1000],\"b\":1.5}"));
  }

  @Test
  void ignoresFieldsOfANewerReceiver() throws Exception {
    assertEquals(5, EventJson.parse("{\"sequence\":\"5\",\"futureField\":true}").getSequence());
  }
}
