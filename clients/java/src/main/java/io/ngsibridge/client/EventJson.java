package io.ngsibridge.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.ngsibridge.v1.NgsiEvent;
import java.math.BigDecimal;
import java.util.Map;
import java.util.TreeMap;

/**
 * The receiver's {@code event-json} line format: proto3 JSON mapping, one event per line. {@link
 * #canonical} prints compact JSON with sorted keys and integral numbers without a fraction, so the
 * same event prints identically from the Java, Go and Python clients. Thread-safe.
 */
public final class EventJson {
  private static final JsonFormat.Parser PARSER = JsonFormat.parser().ignoringUnknownFields();
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().omittingInsignificantWhitespace();

  private EventJson() {}

  /** Parses one event-json line; unknown fields (a newer receiver) are ignored. */
  public static NgsiEvent parse(String line) throws InvalidProtocolBufferException {
    NgsiEvent.Builder b = NgsiEvent.newBuilder();
    PARSER.merge(line, b);
    return b.build();
  }

  /** Proto3 JSON, compact, as the receiver writes it. */
  public static String toJson(MessageOrBuilder message) {
    try {
      return PRINTER.print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("cannot print " + message.getClass().getName(), e);
    }
  }

  /** Proto3 JSON, compact, keys sorted, integral numbers as integers. */
  public static String canonical(MessageOrBuilder message) {
    return normalize(JsonParser.parseString(toJson(message))).toString();
  }

  /** Re-encodes any JSON the way {@link #canonical} does. */
  public static String canonical(String json) {
    return normalize(JsonParser.parseString(json)).toString();
  }

  private static JsonElement normalize(JsonElement e) {
    if (e.isJsonObject()) {
      TreeMap<String, JsonElement> sorted = new TreeMap<>();
      for (Map.Entry<String, JsonElement> m : e.getAsJsonObject().entrySet()) {
        sorted.put(m.getKey(), normalize(m.getValue()));
      }
      JsonObject out = new JsonObject();
      sorted.forEach(out::add);
      return out;
    }
    if (e.isJsonArray()) {
      JsonArray out = new JsonArray();
      e.getAsJsonArray().forEach(x -> out.add(normalize(x)));
      return out;
    }
    if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
      BigDecimal d = new BigDecimal(e.getAsJsonPrimitive().getAsString());
      if (d.signum() == 0) {
        return new JsonPrimitive(0);
      }
      BigDecimal stripped = d.stripTrailingZeros();
      if (stripped.scale() <= 0 && stripped.abs().compareTo(BigDecimal.valueOf(1L << 53)) <= 0) {
        return new JsonPrimitive(stripped.longValueExact());
      }
      return new JsonPrimitive(d.doubleValue());
    }
    return e;
  }
}
