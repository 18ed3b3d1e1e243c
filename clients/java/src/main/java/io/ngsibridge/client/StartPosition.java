package io.ngsibridge.client;

import io.ngsibridge.v1.SubscribeRequest;
import java.util.Locale;

/** Where a subscription begins: the latest, the earliest retained, or after a sequence. Immutable. */
public final class StartPosition {
  private final SubscribeRequest.Start kind;
  private final long afterSequence;

  private StartPosition(SubscribeRequest.Start kind, long afterSequence) {
    this.kind = kind;
    this.afterSequence = afterSequence;
  }

  /** Only events appended after the subscription starts. */
  public static StartPosition latest() {
    return new StartPosition(SubscribeRequest.Start.LATEST, 0);
  }

  /** From the earliest event the receiver retains. */
  public static StartPosition earliest() {
    return new StartPosition(SubscribeRequest.Start.EARLIEST, 0);
  }

  /** From the event after {@code sequence} (resume: no gap, no duplicate). */
  public static StartPosition after(long sequence) {
    if (sequence < 0) {
      throw new IllegalArgumentException("sequence " + sequence + " is negative");
    }
    return new StartPosition(SubscribeRequest.Start.AFTER, sequence);
  }

  /**
   * Parses "latest", "earliest" or a sequence SEQ meaning "starting with SEQ" (after SEQ-1).
   *
   * @throws IllegalArgumentException for anything else
   */
  public static StartPosition parse(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    if (t.isEmpty() || t.equals("latest")) {
      return latest();
    }
    if (t.equals("earliest")) {
      return earliest();
    }
    long seq;
    try {
      seq = Long.parseUnsignedLong(t);
    } catch (NumberFormatException e) {
      seq = 0;
    }
    if (seq == 0) {
      throw new IllegalArgumentException(
          "start \"" + text + "\" is not latest, earliest or a sequence >= 1");
    }
    return after(seq - 1);
  }

  public SubscribeRequest.Start kind() {
    return kind;
  }

  public long afterSequence() {
    return afterSequence;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StartPosition p && p.kind == kind && p.afterSequence == afterSequence;
  }

  @Override
  public int hashCode() {
    return kind.hashCode() * 31 + Long.hashCode(afterSequence);
  }

  @Override
  public String toString() {
    return kind == SubscribeRequest.Start.AFTER
        ? "after " + Long.toUnsignedString(afterSequence)
        : kind.name().toLowerCase(Locale.ROOT);
  }
}
