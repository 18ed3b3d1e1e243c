package io.ngsibridge.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.ngsibridge.v1.EventFilter;
import io.ngsibridge.v1.NgsiEvent;
import io.ngsibridge.v1.SubscribeRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(20)
class EventSubscriberTest {
  private Server server;
  private ManagedChannel channel;

  private EventSubscriber.Builder serve(FakeReceiver fake) throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(fake).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    return EventSubscriber.newBuilder(channel)
        .backoff(Duration.ofMillis(1), Duration.ofMillis(5));
  }

  @AfterEach
  void tearDown() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static List<Long> range(long first, long last) {
    return LongStream.rangeClosed(first, last).boxed().collect(Collectors.toList());
  }

  private static List<Long> drain(EventSubscriber subscriber) {
    List<Long> seqs = new ArrayList<>();
    subscriber.forEach(e -> seqs.add(e.getSequence()));
    return seqs;
  }

  @Test
  void earliestDeliversEveryEventInOrderUntilTheEnd() throws Exception {
    FakeReceiver fake = new FakeReceiver(FakeReceiver.events(5, 10), 5);
    EventSubscriber sub = serve(fake).start(StartPosition.earliest()).endSequence(14).build();
    assertEquals(range(5, 14), drain(sub));
    SubscribeRequest req = fake.requests.get(0);
    assertEquals(SubscribeRequest.Start.EARLIEST, req.getStart());
    assertEquals(14, req.getEndSequence());
  }

  @Test
  void afterStartsWithTheNextSequence() throws Exception {
    FakeReceiver fake = new FakeReceiver(FakeReceiver.events(1, 10), 1);
    assertEquals(range(8, 10),
        drain(serve(fake).start(StartPosition.after(7)).endSequence(10).build()));
  }

  @Test
  void resumesAfterBrokenStreamsWithoutGapOrDuplicate() throws Exception {
    FakeReceiver fake = new FakeReceiver(FakeReceiver.events(1, 20), 1);
    fake.breakAfter.addAll(List.of(3, 0, 5, 4));
    EventSubscriber sub = serve(fake).start(StartPosition.earliest()).endSequence(20).build();
    try (EventSubscriber.Subscription events = sub.subscribe()) {
      List<Long> seqs = new ArrayList<>();
      events.forEachRemaining(e -> seqs.add(e.getSequence()));
      assertEquals(range(1, 20), seqs);
      assertEquals(4, events.reconnects());
      assertEquals(20, events.lastSequence());
    }
    List<Long> afters = fake.requests.stream().skip(1)
        .map(SubscribeRequest::getAfterSequence).collect(Collectors.toList());
    assertEquals(List.of(3L, 3L, 8L, 12L), afters);
    assertTrue(fake.requests.stream().skip(1)
        .allMatch(r -> r.getStart() == SubscribeRequest.Start.AFTER));
  }

  @Test
  void resumeKeepsTheFilterAndSkipsResentEvents() throws Exception {
    FakeReceiver fake = new FakeReceiver(FakeReceiver.events(1, 12), 1);
    fake.breakAfter.add(2);
    fake.resend = true;
    EventFilter filter = EventFilter.newBuilder().setEntityType("Room").addAttrs("temperature").build();
    EventSubscriber sub =
        serve(fake).start(StartPosition.after(1)).filter(filter).endSequence(12).build();
    List<NgsiEvent> got = new ArrayList<>();
    sub.forEach(got::add);
    assertEquals(List.of(2L, 4L, 6L, 8L, 10L, 12L),
        got.stream().map(NgsiEvent::getSequence).collect(Collectors.toList()));
    assertTrue(got.stream().allMatch(e -> e.getEntities(0).getAttrsMap().keySet()
        .equals(java.util.Set.of("temperature"))));
    assertTrue(fake.requests.stream().allMatch(r -> r.getFilter().equals(filter)));
  }

  @Test
  void outOfRangeIsFinal() throws Exception {
    FakeReceiver fake = new FakeReceiver(FakeReceiver.events(50, 5), 50);
    EventSubscriber sub = serve(fake).start(StartPosition.after(10)).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> drain(sub));
    assertEquals(Status.Code.OUT_OF_RANGE, e.getStatus().getCode());
    assertEquals(1, fake.requests.size());
  }

  @Test
  void givesUpAfterMaxRetries() throws Exception {
    FakeReceiver fake = new FakeReceiver(FakeReceiver.events(1, 3), 1);
    fake.breakAfter.addAll(List.of(0, 0, 0, 0));
    EventSubscriber sub = serve(fake).start(StartPosition.earliest()).maxRetries(2).build();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> drain(sub));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals(3, fake.requests.size());
  }

  @Test
  void closeFromAnotherThreadEndsALiveSubscription() throws Exception {
    FakeReceiver fake = new FakeReceiver(FakeReceiver.events(1, 2), 1);
    EventSubscriber sub = serve(fake).start(StartPosition.earliest()).build();
    EventSubscriber.Subscription events = sub.subscribe();
    assertEquals(1, events.next().getSequence());
    assertEquals(2, events.next().getSequence());
    CountDownLatch blocked = new CountDownLatch(1);
    Thread closer = new Thread(() -> {
      try {
        blocked.await();
        Thread.sleep(50);
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
      events.close();
    });
    closer.start();
    blocked.countDown();
    assertFalse(events.hasNext()); // blocks until close()
    closer.join();
    assertEquals(2, events.lastSequence());
  }

  @Test
  void startPositionParse() {
    assertEquals(StartPosition.latest(), StartPosition.parse("latest"));
    assertEquals(StartPosition.earliest(), StartPosition.parse("EARLIEST"));
    assertEquals(StartPosition.after(41), StartPosition.parse("42"));
    assertEquals("after 41", StartPosition.parse("42").toString());
    assertThrows(IllegalArgumentException.class, () -> StartPosition.parse("0"));
    assertThrows(IllegalArgumentException.class, () -> StartPosition.parse("soon"));
  }
}
