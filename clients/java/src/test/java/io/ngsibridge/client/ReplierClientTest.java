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
import io.grpc.stub.StreamObserver;
import io.ngsibridge.v1.Entity;
import io.ngsibridge.v1.EntityResult;
import io.ngsibridge.v1.Operation;
import io.ngsibridge.v1.ReplierGrpc;
import io.ngsibridge.v1.WriteRequest;
import io.ngsibridge.v1.WriteResponse;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ReplierClientTest {
  /** Answers one result per entity; ids in {@code fail} get FAILED_PRECONDITION / 422. */
  static final class FakeReplier extends ReplierGrpc.ReplierImplBase {
    final List<WriteRequest> writes = new CopyOnWriteArrayList<>();
    final Set<String> fail;

    FakeReplier(Set<String> fail) {
      this.fail = fail;
    }

    @Override
    public void write(WriteRequest req, StreamObserver<WriteResponse> out) {
      if (!req.getBroker().equals("orion")) {
        out.onError(Status.NOT_FOUND.withDescription("broker " + req.getBroker()).asRuntimeException());
        return;
      }
      writes.add(req);
      WriteResponse.Builder resp = WriteResponse.newBuilder()
          .setRequestId(req.getRequestId()).setBrokerCalls(1);
      for (Entity e : req.getEntitiesList()) {
        EntityResult.Builder r = EntityResult.newBuilder().setId(e.getId()).setType(e.getType());
        if (fail.contains(e.getId())) {
          r.setCode(Status.Code.FAILED_PRECONDITION.value()).setHttpStatus(422)
              .setMessage("rejected").setBrokerError("{\"error\":\"Unprocessable\"}");
          resp.setFailed(resp.getFailed() + 1);
        } else {
          resp.setSucceeded(resp.getSucceeded() + 1);
        }
        resp.addResults(r);
      }
      out.onNext(resp.build());
      out.onCompleted();
    }
  }

  private Server server;
  private ManagedChannel channel;
  private FakeReplier fake;

  @BeforeEach
  void setUp() throws Exception {
    fake = new FakeReplier(Set.of("R2"));
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(fake).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void tearDown() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  static List<Entity> rooms(String... ids) {
    return java.util.Arrays.stream(ids)
        .map(id -> Entity.newBuilder().setId(id).setType("Room").build())
        .collect(Collectors.toList());
  }

  @Test
  void writeSendsTenancyAndReportsPerEntityResults() {
    ReplierClient client = new ReplierClient(channel, "orion");
    WriteResult result = client.write(WriteRequest.newBuilder()
        .setOperation(Operation.OPERATION_UPSERT).setService("smartcity").setServicePath("/madrid")
        .setCorrelator("c-1").setRequestId("req-7").addAllEntities(rooms("R1", "R2", "R3")));
    assertFalse(result.allSucceeded());
    assertEquals(3, result.results().size());
    assertEquals("req-7", result.response().getRequestId());
    List<EntityResult> failures = result.failures();
    assertEquals(1, failures.size());
    assertEquals("R2", failures.get(0).getId());
    assertEquals(422, failures.get(0).getHttpStatus());
    WriteResult.WriteFailedException e =
        assertThrows(WriteResult.WriteFailedException.class, result::throwIfFailed);
    assertTrue(e.getMessage().contains("Room/R2"), e.getMessage());
    WriteRequest sent = fake.writes.get(0);
    assertEquals("orion", sent.getBroker());
    assertEquals("smartcity", sent.getService());
    assertEquals("/madrid", sent.getServicePath());
    assertEquals("c-1", sent.getCorrelator());
  }

  @Test
  void entityWriterBatchesAndAccumulatesResults() {
    ReplierClient client = new ReplierClient(channel, "orion");
    WriteRequest template = WriteRequest.newBuilder()
        .setOperation(Operation.OPERATION_APPEND).setService("smartcity").build();
    EntityWriter writer = client.newWriter(template, 3);
    try (writer) {
      IntStream.range(0, 7).forEach(i -> writer.add(rooms("E" + i).get(0)));
      assertEquals(2, fake.writes.size()); // the last one waits for close()
    }
    assertEquals(3, fake.writes.size());
    assertEquals(1, fake.writes.get(2).getEntitiesCount());
    assertTrue(fake.writes.stream().allMatch(w -> w.getService().equals("smartcity")
        && w.getOperation() == Operation.OPERATION_APPEND));
    WriteResult total = writer.result();
    assertEquals(7, total.results().size());
    assertEquals(7, total.response().getSucceeded());
    assertTrue(total.allSucceeded());
  }

  @Test
  void unknownBrokerIsAnRpcError() {
    ReplierClient client = new ReplierClient(channel, "nope");
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> client.write(Operation.OPERATION_CREATE, rooms("R1")));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
  }
}
