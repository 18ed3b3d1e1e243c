package io.ngsibridge.client;

import com.google.protobuf.Value;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.ngsibridge.v1.Attribute;
import io.ngsibridge.v1.Entity;
import io.ngsibridge.v1.EventFilter;
import io.ngsibridge.v1.EventStreamGrpc;
import io.ngsibridge.v1.Flavor;
import io.ngsibridge.v1.Format;
import io.ngsibridge.v1.NgsiEvent;
import io.ngsibridge.v1.SubscribeRequest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A fixed event log served with the receiver's start, end and filter semantics. Each entry of
 * {@code breakAfter} makes one stream fail with UNAVAILABLE after that many events.
 */
final class FakeReceiver extends EventStreamGrpc.EventStreamImplBase {
  final List<NgsiEvent> events;
  final long earliest;
  final Deque<Integer> breakAfter = new ArrayDeque<>();
  final List<SubscribeRequest> requests = new CopyOnWriteArrayList<>();
  volatile boolean resend;

  FakeReceiver(List<NgsiEvent> events, long earliest) {
    this.events = events;
    this.earliest = earliest;
  }

  static List<NgsiEvent> events(long first, int n) {
    List<NgsiEvent> out = new ArrayList<>();
    for (long seq = first; seq < first + n; seq++) {
      boolean room = seq % 2 == 0;
      String type = room ? "Room" : "Car";
      out.add(NgsiEvent.newBuilder()
          .setSequence(seq).setService("smartcity").setServicePath(room ? "/madrid" : "/valencia")
          .setFlavor(Flavor.NGSI_V2).setFormat(Format.NORMALIZED)
          .addEntities(Entity.newBuilder().setId(type + seq).setType(type)
              .putAttrs("temperature", Attribute.newBuilder().setType("Number")
                  .setValue(Value.newBuilder().setNumberValue(seq)).build())
              .putAttrs("pressure", Attribute.newBuilder().setType("Number")
                  .setValue(Value.newBuilder().setNumberValue(1000)).build()))
          .build());
    }
    return out;
  }

  static boolean matches(EventFilter f, NgsiEvent e) {
    if (!f.getService().isEmpty() && !f.getService().equals(e.getService())) {
      return false;
    }
    String p = f.getServicePathPrefix();
    if (!p.isEmpty() && !e.getServicePath().equals(p) && !e.getServicePath().startsWith(p + "/")) {
      return false;
    }
    return e.getEntitiesList().stream().anyMatch(ent ->
        (f.getEntityType().isEmpty() || f.getEntityType().equals(ent.getType()))
            && (f.getEntityId().isEmpty() || f.getEntityId().equals(ent.getId()))
            && (f.getEntityIdPattern().isEmpty() || ent.getId().matches(f.getEntityIdPattern())));
  }

  static NgsiEvent project(EventFilter f, NgsiEvent e) {
    if (f.getAttrsCount() == 0) {
      return e;
    }
    NgsiEvent.Builder b = e.toBuilder();
    for (Entity.Builder ent : b.getEntitiesBuilderList()) {
      for (String name : List.copyOf(ent.getAttrsMap().keySet())) {
        if (!f.getAttrsList().contains(name)) {
          ent.removeAttrs(name);
        }
      }
    }
    return b.build();
  }

  @Override
  public void subscribe(SubscribeRequest req, StreamObserver<NgsiEvent> out) {
    requests.add(req);
    Integer limit;
    synchronized (breakAfter) {
      limit = breakAfter.poll();
    }
    long from;
    switch (req.getStart()) {
      case EARLIEST:
        from = earliest;
        break;
      case AFTER:
        from = req.getAfterSequence() + 1 - (resend && req.getAfterSequence() > 0 ? 1 : 0);
        if (from < earliest) {
          out.onError(Status.OUT_OF_RANGE
              .withDescription("sequence " + from + " is no longer retained; earliest is " + earliest)
              .asRuntimeException());
          return;
        }
        break;
      default:
        return; // LATEST on a fixed log: nothing ever comes; the client cancels
    }
    int sent = 0;
    for (NgsiEvent e : events) {
      if (e.getSequence() < from || !matches(req.getFilter(), e)) {
        continue;
      }
      if (req.getEndSequence() != 0 && e.getSequence() > req.getEndSequence()) {
        break;
      }
      if (limit != null && sent == limit) {
        out.onError(Status.UNAVAILABLE.withDescription("receiver draining").asRuntimeException());
        return;
      }
      out.onNext(project(req.getFilter(), e));
      sent++;
    }
    if (limit != null && sent == limit) {
      out.onError(Status.UNAVAILABLE.withDescription("receiver draining").asRuntimeException());
      return;
    }
    if (req.getEndSequence() != 0) {
      out.onCompleted();
    }
    // Otherwise follow: stay open until the client cancels.
  }
}
