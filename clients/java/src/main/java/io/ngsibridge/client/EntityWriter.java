package io.ngsibridge.client;

import io.ngsibridge.v1.Entity;
import io.ngsibridge.v1.WriteRequest;
import io.ngsibridge.v1.WriteResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * Buffers entities and writes them in batches through a {@link ReplierClient}: what a Spark
 * {@code foreachPartition} needs. {@link #close()} flushes the rest; {@link #result()} holds
 * every entity's result so far. Not thread-safe: one per partition.
 */
public final class EntityWriter implements AutoCloseable {
  private final ReplierClient client;
  private final WriteRequest template;
  private final int batchSize;
  private final List<Entity> buffer = new ArrayList<>();
  private final WriteResponse.Builder total = WriteResponse.newBuilder();

  EntityWriter(ReplierClient client, WriteRequest template, int batchSize) {
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batchSize " + batchSize + " is not positive");
    }
    this.client = client;
    this.template = template.toBuilder().clearEntities().build();
    this.batchSize = batchSize;
  }

  /** Adds one entity; writes a batch when the buffer is full (blocks then). */
  public void add(Entity entity) {
    buffer.add(entity);
    if (buffer.size() >= batchSize) {
      flush();
    }
  }

  /** Writes what is buffered. Blocks. Throws as {@link ReplierClient#write} does. */
  public void flush() {
    if (buffer.isEmpty()) {
      return;
    }
    WriteResult r = client.write(template.toBuilder().addAllEntities(buffer));
    buffer.clear();
    WriteResponse resp = r.response();
    total.addAllResults(resp.getResultsList())
        .setSucceeded(total.getSucceeded() + resp.getSucceeded())
        .setFailed(total.getFailed() + resp.getFailed())
        .setBrokerCalls(total.getBrokerCalls() + resp.getBrokerCalls());
  }

  /** Every result of the batches written so far. */
  public WriteResult result() {
    return new WriteResult(total.build());
  }

  @Override
  public void close() {
    flush();
  }
}
