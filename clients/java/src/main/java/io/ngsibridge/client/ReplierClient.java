package io.ngsibridge.client;

import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import io.ngsibridge.v1.Entity;
import io.ngsibridge.v1.Operation;
import io.ngsibridge.v1.ReplierGrpc;
import io.ngsibridge.v1.WriteRequest;
import io.ngsibridge.v1.WriteResponse;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Writes entities back to one broker configured on ngsi-replier, with one result per entity.
 *
 * <pre>{@code
 * ReplierClient replier = new ReplierClient(channel, "orion");
 * WriteResult result = replier.write(WriteRequest.newBuilder()
 *     .setOperation(Operation.OPERATION_UPSERT).setService("smartcity").setServicePath("/madrid")
 *     .addAllEntities(entities));
 * result.failures().forEach(f -> log(f.getId() + ": " + f.getMessage()));
 * }</pre>
 *
 * <p>Immutable and thread-safe. RPC failures (replier unreachable, unknown broker, bad request)
 * are thrown as {@link StatusRuntimeException}; per-entity failures are in the {@link WriteResult}.
 */
public final class ReplierClient {
  private final ReplierGrpc.ReplierBlockingStub stub;
  private final String broker;
  private final Duration timeout;

  public ReplierClient(Channel channel, String broker) {
    this(ReplierGrpc.newBlockingStub(channel), broker, Duration.ofSeconds(60));
  }

  private ReplierClient(ReplierGrpc.ReplierBlockingStub stub, String broker, Duration timeout) {
    this.stub = stub;
    this.broker = Objects.requireNonNull(broker, "broker");
    this.timeout = timeout;
  }

  /** A client with another per-call deadline (default 60 s). */
  public ReplierClient withTimeout(Duration timeout) {
    return new ReplierClient(stub, broker, timeout);
  }

  public String broker() {
    return broker;
  }

  /** Writes {@code entities} with {@code operation}, default tenant. Blocks. */
  public WriteResult write(Operation operation, List<Entity> entities) {
    return write(WriteRequest.newBuilder().setOperation(operation).addAllEntities(entities));
  }

  /**
   * Sends one batch; the broker is this client's unless the request names one. Blocks.
   *
   * @throws StatusRuntimeException when the RPC fails
   * @throws IllegalStateException when the replier answers a result count that does not match
   */
  public WriteResult write(WriteRequest.Builder request) {
    if (request.getBroker().isEmpty()) {
      request.setBroker(broker);
    }
    WriteRequest built = request.build();
    WriteResponse response =
        stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS).write(built);
    if (response.getResultsCount() != built.getEntitiesCount()) {
      throw new IllegalStateException(
          "replier answered " + response.getResultsCount() + " results for "
              + built.getEntitiesCount() + " entities");
    }
    return new WriteResult(response);
  }

  /**
   * A batching writer for a stream of entities (a Spark partition): {@code template} holds the
   * operation and tenancy, {@code batchSize} entities go in each Write.
   */
  public EntityWriter newWriter(WriteRequest template, int batchSize) {
    return new EntityWriter(this, template, batchSize);
  }
}
