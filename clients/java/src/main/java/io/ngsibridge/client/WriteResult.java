package io.ngsibridge.client;

import io.ngsibridge.v1.EntityResult;
import io.ngsibridge.v1.WriteResponse;
import java.util.List;
import java.util.stream.Collectors;

/** The replier's answer to one or more writes: one {@link EntityResult} per entity. Immutable. */
public final class WriteResult {
  private final WriteResponse response;

  public WriteResult(WriteResponse response) {
    this.response = response;
  }

  public WriteResponse response() {
    return response;
  }

  /** One per entity, in request order. */
  public List<EntityResult> results() {
    return response.getResultsList();
  }

  /** The entities that were not written (code != OK). */
  public List<EntityResult> failures() {
    return response.getResultsList().stream()
        .filter(r -> r.getCode() != 0)
        .collect(Collectors.toUnmodifiableList());
  }

  public boolean allSucceeded() {
    return response.getFailed() == 0 && failures().isEmpty();
  }

  /** Throws {@link WriteFailedException} naming every failed entity unless all succeeded. */
  public WriteResult throwIfFailed() {
    if (!allSucceeded()) {
      throw new WriteFailedException(this);
    }
    return this;
  }

  @Override
  public String toString() {
    return "WriteResult{succeeded=" + response.getSucceeded() + ", failed=" + response.getFailed()
        + ", brokerCalls=" + response.getBrokerCalls() + "}";
  }

  /** Some entities of a write were rejected; {@link #result()} says which and why. */
  public static final class WriteFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient WriteResult result;

    WriteFailedException(WriteResult result) {
      super(describe(result));
      this.result = result;
    }

    public WriteResult result() {
      return result;
    }

    private static String describe(WriteResult result) {
      List<EntityResult> f = result.failures();
      return f.size() + " of " + result.results().size() + " entities failed: "
          + f.stream()
              .limit(10)
              .map(r -> r.getType() + "/" + r.getId() + ": " + r.getMessage()
                  + " (code " + r.getCode() + ", http " + r.getHttpStatus() + ")")
              .collect(Collectors.joining("; "));
    }
  }
}
