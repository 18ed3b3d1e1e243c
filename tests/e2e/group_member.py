"""A consumer-group member for tests/e2e/test_durability_groups.py, run as its
own process so that the test can kill -9 it:

    python group_member.py STUBS_DIR GRPC_ADDRESS GROUP MEMBER OUT_FILE [COMMIT_EVERY] [DELAY_S]

Subscribes with the group, appends one JSON line per entity it is given
({"seq":..,"id":..,"n":..}) to OUT_FILE (flushed before committing), commits
every COMMIT_EVERY events ({"commit":seq} line once the Commit returned) and
subscribes again (a {"session":k} line) whenever the stream ends: ABORTED
after a rebalance, UNAVAILABLE while the receiver is away.
"""
import json
import sys
import time

STUBS, ADDRESS, GROUP, MEMBER, OUT = sys.argv[1:6]
COMMIT_EVERY = int(sys.argv[6]) if len(sys.argv) > 6 else 10
DELAY = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
sys.path.insert(0, STUBS)

import grpc  # noqa: E402
from ngsi_bridge.v1 import receiver_pb2, receiver_pb2_grpc  # noqa: E402


def main():
    out = open(OUT, "a", buffering=1, encoding="utf-8")
    channel = grpc.insecure_channel(ADDRESS)
    stub = receiver_pb2_grpc.EventStreamStub(channel)
    session = 0
    while True:
        session += 1
        out.write(json.dumps({"session": session}) + "\n")
        request = receiver_pb2.SubscribeRequest(group=GROUP, member=MEMBER)
        call = stub.Subscribe(request)
        generation = 0
        received = 0
        try:
            metadata = dict(call.initial_metadata())
            generation = int(metadata.get("ngsi-group-generation", "0"))
            for event in call:
                for entity in event.entities:
                    out.write(json.dumps({"seq": event.sequence, "id": entity.id,
                                          "n": int(entity.attrs["n"].value.number_value)}) + "\n")
                out.flush()
                received += 1
                if DELAY:
                    time.sleep(DELAY)
                if received % COMMIT_EVERY == 0:
                    try:
                        stub.Commit(receiver_pb2.CommitRequest(
                            group=GROUP, member=MEMBER, sequence=event.sequence,
                            generation=generation), timeout=10)
                        out.write(json.dumps({"commit": event.sequence}) + "\n")
                    except grpc.RpcError:
                        break  # rebalanced: the stream ends too
        except grpc.RpcError:
            pass
        call.cancel()
        time.sleep(0.05)


if __name__ == "__main__":
    main()
