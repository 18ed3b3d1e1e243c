package io.ngsibridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.Value;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.ngsibridge.v1.Attribute;
import io.ngsibridge.v1.Entity;
import io.ngsibridge.v1.EntityResult;
import io.ngsibridge.v1.EventFilter;
import io.ngsibridge.v1.NgsiEvent;
import io.ngsibridge.v1.Operation;
import io.ngsibridge.v1.WriteRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The Java client against real ngsi-receiver and ngsi-replier processes fed by the broker
 * simulator. tests/clients/test_java_go_clients.py starts them, replays the fixtures and passes
 * NGSI_BRIDGE_* variables; without them every test is skipped.
 */
@Timeout(60)
class LiveServicesTest {
  private final List<ManagedChannel> channels = new ArrayList<>();

  private static String env(String name) {
    String v = System.getenv(name);
    assumeTrue(v != null && !v.isEmpty(), name + " is not set: run tests/clients/test_java_go_clients.py");
    return v;
  }

  private ManagedChannel dial(String address) {
    ManagedChannel c = ManagedChannelBuilder.forTarget(address).usePlaintext().build();
    channels.add(c);
    return c;
  }

  @AfterEach
  void closeChannels() throws InterruptedException {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static long first() {
    return Long.parseLong(env("NGSI_BRIDGE_FIRST_SEQUENCE"));
  }

  private static long end() {
    return Long.parseLong(env("NGSI_BRIDGE_END_SEQUENCE"));
  }

  private static List<NgsiEvent> receive(EventSubscriber subscriber) {
    List<NgsiEvent> events = new ArrayList<>();
    subscriber.forEach(events::add);
    return events;
  }

  private static void assertContiguous(List<NgsiEvent> events, long first, long end) {
    assertEquals(end - first + 1, events.size(), "events " + first + ".." + end);
    for (int i = 0; i < events.size(); i++) {
      assertEquals(first + i, events.get(i).getSequence());
    }
  }

  @Test
  void receivesEveryEventOfTheReplay() throws IOException {
    ManagedChannel channel = dial(env("NGSI_BRIDGE_RECEIVER_GRPC"));
    List<NgsiEvent> events = receive(EventSubscriber.newBuilder(channel)
        .start(StartPosition.earliest()).endSequence(end()).build());
    assertContiguous(events, first(), end());
    String out = System.getenv("NGSI_BRIDGE_EVENTS_OUT");
    if (out != null && !out.isEmpty()) {
      Files.write(Path.of(out), events.stream().map(EventJson::canonical)
          .collect(Collectors.toList()), StandardCharsets.UTF_8);
    }
  }

  @Test
  void resumesAfterTheLastSequenceInANewSubscription() {
    ManagedChannel channel = dial(env("NGSI_BRIDGE_RECEIVER_GRPC"));
    long first = first();
    long end = end();
    List<NgsiEvent> all = receive(EventSubscriber.newBuilder(channel)
        .start(StartPosition.earliest()).endSequence(end).build());
    long mid = first + (end - first) / 3;
    List<NgsiEvent> got = new ArrayList<>();
    long last;
    try (EventSubscriber.Subscription head = EventSubscriber.newBuilder(channel)
        .start(StartPosition.earliest()).build().subscribe()) {
      while (head.next().getSequence() < mid) {
        // read up to mid, then drop the subscription
      }
      last = head.lastSequence();
    }
    got.addAll(all.subList(0, (int) (last - first + 1)));
    got.addAll(receive(EventSubscriber.newBuilder(channel)
        .start(StartPosition.after(last)).endSequence(end).build()));
    assertContiguous(got, first, end);
    assertEquals(all, got);
  }

  @Test
  void resumesAcrossBrokenConnectionsWithoutGapOrDuplicate() throws IOException {
    long first = first();
    long end = end();
    try (CuttingProxy proxy = new CuttingProxy(env("NGSI_BRIDGE_RECEIVER_GRPC"))) {
      ManagedChannel channel = dial("127.0.0.1:" + proxy.port());
      EventSubscriber subscriber = EventSubscriber.newBuilder(channel)
          .start(StartPosition.earliest()).endSequence(end)
          .backoff(Duration.ofMillis(10), Duration.ofMillis(100)).build();
      List<NgsiEvent> events = new ArrayList<>();
      Set<Integer> cuts = Set.of(3, 10, 25);
      int reconnects;
      try (EventSubscriber.Subscription s = subscriber.subscribe()) {
        while (s.hasNext()) {
          events.add(s.next());
          if (cuts.contains(events.size())) {
            proxy.cut();
          }
        }
        reconnects = s.reconnects();
      }
      assertContiguous(events, first, end);
      // Cuts close together may fall on one broken stream, but the first one,
      // three events into a throttled replay, always breaks one.
      assertTrue(reconnects >= 1, reconnects + " reconnects");
    }
  }

  @Test
  void serverSideFiltersMatchTheFullStream() {
    ManagedChannel channel = dial(env("NGSI_BRIDGE_RECEIVER_GRPC"));
    long end = end();
    List<NgsiEvent> all = receive(EventSubscriber.newBuilder(channel)
        .start(StartPosition.earliest()).endSequence(end).build());
    String type = all.stream().flatMap(e -> e.getEntitiesList().stream())
        .filter(Entity::hasType).map(Entity::getType).findFirst().orElseThrow();
    List<Long> want = all.stream()
        .filter(e -> e.getEntitiesList().stream().anyMatch(x -> x.getType().equals(type)))
        .map(NgsiEvent::getSequence).collect(Collectors.toList());
    List<Long> got = receive(EventSubscriber.newBuilder(channel)
        .start(StartPosition.earliest()).endSequence(end)
        .filter(EventFilter.newBuilder().setEntityType(type).build()).build())
        .stream().map(NgsiEvent::getSequence).collect(Collectors.toList());
    assertEquals(want, got, "type " + type);
  }

  @Test
  void writesBackAndReadsBackAtTheBroker() throws Exception {
    ManagedChannel channel = dial(env("NGSI_BRIDGE_REPLIER_GRPC"));
    String brokerUrl = env("NGSI_BRIDGE_BROKER_URL");
    String prefix = env("NGSI_BRIDGE_RUN_ID") + "-java-";
    ReplierClient client = new ReplierClient(channel, env("NGSI_BRIDGE_REPLIER_BROKER"));
    WriteRequest template = WriteRequest.newBuilder().setOperation(Operation.OPERATION_UPSERT)
        .setService("clients").setServicePath("/java").build();
    EntityWriter writer = client.newWriter(template, 2);
    try (writer) {
      for (int i = 1; i <= 3; i++) {
        writer.add(Entity.newBuilder().setId(prefix + i).setType("Room")
            .putAttrs("temperature", Attribute.newBuilder().setType("Number")
                .setValue(Value.newBuilder().setNumberValue(20 + i)).build())
            .build());
      }
    }
    WriteResult result = writer.result().throwIfFailed();
    assertEquals(3, result.results().size());
    for (int i = 1; i <= 3; i++) {
      assertEquals(prefix + i, result.results().get(i - 1).getId());
      JsonObject got = readBack(brokerUrl, prefix + i, "clients", "/java");
      assertEquals("Room", got.get("type").getAsString());
      assertEquals(20 + i, got.getAsJsonObject("temperature").get("value").getAsDouble());
    }
    // Creating an entity that exists fails for that entity only.
    WriteResult create = client.write(WriteRequest.newBuilder()
        .setOperation(Operation.OPERATION_CREATE).setService("clients").setServicePath("/java")
        .addEntities(Entity.newBuilder().setId(prefix + 1).setType("Room")
            .putAttrs("temperature", Attribute.newBuilder().setType("Number")
                .setValue(Value.newBuilder().setNumberValue(99)).build()))
        .addEntities(Entity.newBuilder().setId(prefix + "new").setType("Room")));
    List<EntityResult> failures = create.failures();
    assertEquals(1, failures.size(), create.response().toString());
    assertEquals(prefix + 1, failures.get(0).getId());
    assertNotEquals(0, failures.get(0).getCode());
    assertEquals(prefix + "new", readBack(brokerUrl, prefix + "new", "clients", "/java")
        .get("id").getAsString());
  }

  private static JsonObject readBack(String base, String id, String service, String path)
      throws Exception {
    HttpResponse<String> resp = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(base + "/v2/entities/" + id))
            .header("Fiware-Service", service).header("Fiware-ServicePath", path)
            .timeout(Duration.ofSeconds(10)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, resp.statusCode(), "GET " + id + ": " + resp.body());
    return JsonParser.parseString(resp.body()).getAsJsonObject();
  }

  /** A TCP proxy to the receiver whose connections can be cut, to break streams for real. */
  static final class CuttingProxy implements AutoCloseable {
    private final ServerSocket server;
    private final String targetHost;
    private final int targetPort;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    CuttingProxy(String target) throws IOException {
      int colon = target.lastIndexOf(':');
      targetHost = target.substring(0, colon);
      targetPort = Integer.parseInt(target.substring(colon + 1));
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread acceptor = new Thread(this::accept, "proxy-accept");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    int port() {
      return server.getLocalPort();
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket client = server.accept();
          Socket upstream = new Socket(targetHost, targetPort);
          sockets.add(client);
          sockets.add(upstream);
          pump(client, upstream, false);
          pump(upstream, client, true);
        } catch (IOException e) {
          return;
        }
      }
    }

    // Receiver-to-client bytes go in small slow chunks, so that a cut lands
    // mid-stream rather than after the whole replay sat in the client's buffers.
    private static void pump(Socket from, Socket to, boolean throttle) {
      Thread t = new Thread(() -> {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
          byte[] buffer = new byte[throttle ? 512 : 8192];
          for (int n; (n = in.read(buffer)) >= 0; ) {
            out.write(buffer, 0, n);
            out.flush();
            if (throttle) {
              Thread.sleep(5);
            }
          }
        } catch (IOException | InterruptedException ignored) {
          // cut
        } finally {
          closeQuietly(from);
          closeQuietly(to);
        }
      }, "proxy-pump");
      t.setDaemon(true);
      t.start();
    }

    void cut() {
      for (Socket s : sockets) {
        closeQuietly(s);
      }
      sockets.clear();
    }

    private static void closeQuietly(Socket s) {
      try {
        s.close();
      } catch (IOException ignored) {
        // already closed
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
      cut();
    }
  }
}
