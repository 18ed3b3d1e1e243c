package io.ngsibridge.client;

import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.ngsibridge.v1.EventFilter;
import io.ngsibridge.v1.EventStreamGrpc;
import io.ngsibridge.v1.NgsiEvent;
import io.ngsibridge.v1.SubscribeRequest;
import java.time.Duration;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Follows an ngsi-receiver's EventStream from a start position with server-side filters. When the
 * stream breaks (receiver restarting, draining, network), it resubscribes after the last sequence
 * it delivered, so the caller sees every matching event once, in order, with no gap and no
 * duplicate. A start that is no longer retained fails with OUT_OF_RANGE and is never retried.
 *
 * <pre>{@code
 * EventSubscriber subscriber = EventSubscriber.newBuilder(channel)
 *     .start(StartPosition.earliest())
 *     .filter(EventFilter.newBuilder().setEntityType("Room").build())
 *     .build();
 * try (EventSubscriber.Subscription events = subscriber.subscribe()) {
 *   while (events.hasNext()) { NgsiEvent e = events.next(); ... }
 * }
 * }</pre>
 *
 * <p>The subscriber is immutable and thread-safe; each {@link Subscription} is used by one thread
 * (but may be closed from any).
 */
public final class EventSubscriber {
  private final EventStreamGrpc.EventStreamBlockingStub stub;
  private final StartPosition start;
  private final EventFilter filter;
  private final long endSequence;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final int maxRetries;

  private EventSubscriber(Builder b) {
    this.stub = EventStreamGrpc.newBlockingStub(b.channel);
    this.start = b.start;
    this.filter = b.filter;
    this.endSequence = b.endSequence;
    this.initialBackoff = b.initialBackoff;
    this.maxBackoff = b.maxBackoff;
    this.maxRetries = b.maxRetries;
  }

  public static Builder newBuilder(Channel channel) {
    return new Builder(channel);
  }

  /** Opens a subscription; the first RPC is sent on the first {@code hasNext()}. */
  public Subscription subscribe() {
    return new Subscription();
  }

  /**
   * Delivers every event to {@code handler} until the end sequence, a final error (thrown as
   * {@link StatusRuntimeException}) or the thread's interruption. Blocks. Returns the last
   * delivered sequence.
   */
  public long forEach(Consumer<? super NgsiEvent> handler) {
    try (Subscription events = subscribe()) {
      while (events.hasNext()) {
        handler.accept(events.next());
      }
      return events.lastSequence();
    }
  }

  /** True for errors a resubscription may overcome; OUT_OF_RANGE and the like are final. */
  public static boolean isRetryable(Status.Code code) {
    switch (code) {
      case UNAVAILABLE:
      case ABORTED:
      case INTERNAL:
      case UNKNOWN:
      case RESOURCE_EXHAUSTED:
      case DEADLINE_EXCEEDED:
        return true;
      default:
        return false;
    }
  }

  /** Builds an {@link EventSubscriber}. Not thread-safe. */
  public static final class Builder {
    private final Channel channel;
    private StartPosition start = StartPosition.latest();
    private EventFilter filter = EventFilter.getDefaultInstance();
    private long endSequence;
    private Duration initialBackoff = Duration.ofMillis(100);
    private Duration maxBackoff = Duration.ofSeconds(5);
    private int maxRetries;

    private Builder(Channel channel) {
      this.channel = Objects.requireNonNull(channel, "channel");
    }

    public Builder start(StartPosition start) {
      this.start = Objects.requireNonNull(start, "start");
      return this;
    }

    public Builder filter(EventFilter filter) {
      this.filter = Objects.requireNonNull(filter, "filter");
      return this;
    }

    /** Inclusive last sequence: the subscription ends after it (0 = follow forever). */
    public Builder endSequence(long endSequence) {
      this.endSequence = endSequence;
      return this;
    }

    /** Reconnect delays: {@code initial}, doubled up to {@code max}. */
    public Builder backoff(Duration initial, Duration max) {
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /** Consecutive failed resubscriptions before giving up (0 = forever). Reset by any event. */
    public Builder maxRetries(int maxRetries) {
      this.maxRetries = maxRetries;
      return this;
    }

    public EventSubscriber build() {
      return new EventSubscriber(this);
    }
  }

  /** One logical subscription across reconnects: a blocking iterator of events. */
  public final class Subscription implements Iterator<NgsiEvent>, AutoCloseable {
    private Context.CancellableContext context;
    private Iterator<NgsiEvent> stream;
    private NgsiEvent pending;
    private long lastSequence;
    private boolean done;
    private volatile boolean closed;
    private int reconnects;

    private Subscription() {}

    private SubscribeRequest request() {
      SubscribeRequest.Builder req =
          SubscribeRequest.newBuilder()
              .setStart(start.kind())
              .setAfterSequence(start.afterSequence())
              .setEndSequence(endSequence)
              .setFilter(filter);
      if (lastSequence != 0) {
        req.setStart(SubscribeRequest.Start.AFTER).setAfterSequence(lastSequence);
      }
      return req.build();
    }

    /**
     * Blocks until the next event. False after the end sequence, once the server completed the
     * stream, or after {@link #close()}. Throws {@link StatusRuntimeException} for a final error
     * or when retries are exhausted.
     */
    @Override
    public boolean hasNext() {
      if (pending != null) {
        return true;
      }
      int failures = 0;
      long backoff = initialBackoff.toMillis();
      while (!done) {
        if (closed) {
          done = true;
          break;
        }
        if (endSequence != 0 && Long.compareUnsigned(lastSequence, endSequence) >= 0) {
          done = true;
          break;
        }
        try {
          if (stream == null) {
            Context.CancellableContext ctx = Context.current().withCancellation();
            context = ctx;
            SubscribeRequest req = request();
            stream = ctx.call(() -> stub.subscribe(req));
          }
          while (stream.hasNext()) {
            NgsiEvent event = stream.next();
            if (lastSequence != 0 && Long.compareUnsigned(event.getSequence(), lastSequence) <= 0) {
              continue; // never deliver twice, whatever a server resends
            }
            pending = event;
            return true;
          }
          done = true; // the server completed at the end sequence
        } catch (StatusRuntimeException e) {
          cancelStream();
          if (closed) {
            done = true;
            break;
          }
          failures++;
          if (!isRetryable(e.getStatus().getCode()) || (maxRetries > 0 && failures > maxRetries)) {
            done = true;
            throw e;
          }
          try {
            Thread.sleep(backoff);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            done = true;
            throw Status.CANCELLED.withDescription("interrupted").withCause(ie).asRuntimeException();
          }
          backoff = Math.min(2 * backoff, maxBackoff.toMillis());
          reconnects++;
        } catch (Exception e) {
          cancelStream();
          done = true;
          throw Status.INTERNAL.withCause(e).asRuntimeException();
        }
      }
      cancelStream();
      return false;
    }

    @Override
    public NgsiEvent next() {
      if (!hasNext()) {
        throw new NoSuchElementException("subscription ended");
      }
      NgsiEvent event = pending;
      pending = null;
      lastSequence = event.getSequence();
      return event;
    }

    /** Sequence of the last event returned by {@link #next()} (0 before the first). */
    public long lastSequence() {
      return lastSequence;
    }

    /** Resubscriptions after broken streams so far. */
    public int reconnects() {
      return reconnects;
    }

    /** Cancels the stream; a blocked {@code hasNext()} returns false. Any thread, idempotent. */
    @Override
    public void close() {
      closed = true;
      Context.CancellableContext ctx = context;
      if (ctx != null) {
        ctx.cancel(null);
      }
    }

    private void cancelStream() {
      if (context != null) {
        context.cancel(null);
      }
      context = null;
      stream = null;
    }
  }
}
