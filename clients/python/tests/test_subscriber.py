"""EventSubscriber against an in-process fake EventStream: start positions,
filters, resume after drops with no gap and no duplicate, lost events."""
import threading
import time

import pytest

from fakes import Start, make_event
from ngsi_bridge import EventSubscriber
from ngsi_bridge.errors import EventsLostError, ReceiverError


def take(iterator, n, timeout=10):
    out, deadline = [], time.monotonic() + timeout
    for event in iterator:
        out.append(event)
        if len(out) == n or time.monotonic() > deadline:
            break
    return out


def test_earliest_reads_everything_in_order(fake_receiver):
    fake_receiver.servicer.append(*[make_event(i) for i in range(1, 6)])
    with EventSubscriber(fake_receiver.address, "earliest") as sub:
        assert [e.sequence for e in take(sub.events(), 5)] == [1, 2, 3, 4, 5]


def test_a_backlog_arrives_in_batches_unpacked_in_order(fake_receiver):
    fake_receiver.servicer.append(*[make_event(i) for i in range(1, 9)])
    with EventSubscriber(fake_receiver.address, "earliest", end_sequence=8) as sub:
        assert [e.sequence for e in sub] == list(range(1, 9))
        assert sub.batches
    assert max(fake_receiver.servicer.batch_sizes) > 1


def test_the_batch_delay_is_asked_of_the_receiver_and_checked(fake_receiver):
    fake_receiver.servicer.append(*[make_event(i) for i in range(1, 4)])
    with EventSubscriber(fake_receiver.address, "earliest", end_sequence=3) as sub:
        assert [e.sequence for e in sub] == [1, 2, 3]
    with EventSubscriber(fake_receiver.address, "earliest", end_sequence=3,
                         batch_delay_ms=0) as sub:
        assert [e.sequence for e in sub] == [1, 2, 3]
    assert [r.max_batch_delay_ms for r in fake_receiver.servicer.requests] == [5, 0]
    with pytest.raises(ValueError, match="batch_delay_ms"):
        EventSubscriber(fake_receiver.address, batch_delay_ms=1001)


def test_a_receiver_without_batches_is_read_one_event_per_message(fake_receiver):
    fake_receiver.servicer.batches = False
    fake_receiver.servicer.append(*[make_event(i) for i in range(1, 6)])
    with EventSubscriber(fake_receiver.address, "earliest", end_sequence=5) as sub:
        assert [e.sequence for e in sub] == [1, 2, 3, 4, 5]
        assert not sub.batches
        assert sub.reconnects == 0  # the fallback is not a failure to back off from
    assert fake_receiver.servicer.batch_sizes == []


def test_end_sequence_completes_the_iteration(fake_receiver):
    fake_receiver.servicer.append(*[make_event(i) for i in range(1, 10)])
    with EventSubscriber(fake_receiver.address, "after", after_sequence=3, end_sequence=6) as sub:
        assert [e.sequence for e in sub] == [4, 5, 6]
    assert fake_receiver.servicer.requests[0].start == Start.AFTER


def test_int_start_means_after(fake_receiver):
    fake_receiver.servicer.append(*[make_event(i) for i in range(1, 4)])
    with EventSubscriber(fake_receiver.address, 2, end_sequence=3) as sub:
        assert [e.sequence for e in sub] == [3]


def test_resume_after_drops_has_no_gap_and_no_duplicate(fake_receiver):
    receiver = fake_receiver.servicer
    receiver.append(*[make_event(i) for i in range(1, 21)])
    receiver.drop_after = 3  # every stream dies after 3 events
    with EventSubscriber(fake_receiver.address, "earliest", end_sequence=20,
                         initial_backoff=0.01) as sub:
        seqs = [e.sequence for e in sub]
        assert sub.reconnects >= 6
    assert seqs == list(range(1, 21))
    resumed = [r for r in receiver.requests if r.start == Start.AFTER]
    assert [r.after_sequence for r in resumed][:3] == [3, 6, 9]


def test_latest_is_pinned_so_a_drop_before_the_first_event_loses_nothing(fake_receiver):
    receiver = fake_receiver.servicer
    receiver.append(make_event(1), make_event(2))
    receiver.drop_after = 0
    receiver.max_drops = 2
    sub = EventSubscriber(fake_receiver.address, "latest", initial_backoff=0.01)
    got = []
    reader = threading.Thread(target=lambda: got.extend(take(sub.events(), 2)))
    reader.start()
    time.sleep(0.3)
    receiver.append(make_event(3), make_event(4))
    reader.join(10)
    sub.close()
    assert [e.sequence for e in got] == [3, 4]
    assert receiver.requests[0].start == Start.AFTER and receiver.requests[0].after_sequence == 2


def test_filters_are_sent_and_applied(fake_receiver):
    receiver = fake_receiver.servicer
    receiver.append(make_event(1, "A", "Room"), make_event(2, "B", "Car"), make_event(3, "C", "Room"))
    with EventSubscriber(fake_receiver.address, "earliest", end_sequence=3, entity_type="Room",
                         attrs=["temperature"]) as sub:
        assert [e.entities[0].id for e in sub] == ["A", "C"]
    assert receiver.requests[0].filter.entity_type == "Room"
    assert list(receiver.requests[0].filter.attrs) == ["temperature"]


def test_views_give_plain_values(fake_receiver):
    fake_receiver.servicer.append(make_event(1, temperature=23.5))
    with EventSubscriber(fake_receiver.address, "earliest", end_sequence=1) as sub:
        (event,) = list(sub.views())
    assert event.entities[0].attrs["temperature"].value == 23.5


def test_a_start_no_longer_retained_raises_events_lost(fake_receiver):
    receiver = fake_receiver.servicer
    receiver.append(*[make_event(i) for i in range(5, 8)])
    receiver.earliest = 5
    with EventSubscriber(fake_receiver.address, "after", after_sequence=1) as sub:
        with pytest.raises(EventsLostError, match="no longer retains") as info:
            list(sub)
    assert info.value.earliest == 5 and info.value.requested_after == 1


def test_close_from_another_thread_ends_iteration(fake_receiver):
    sub = EventSubscriber(fake_receiver.address, "latest")
    done = threading.Event()

    def run():
        list(sub)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    time.sleep(0.2)
    sub.close()
    assert done.wait(5)


def test_unreachable_receiver_gives_up_with_advice():
    with EventSubscriber("127.0.0.1:1", "earliest", give_up_after=0.5, initial_backoff=0.05,
                         max_backoff=0.1) as sub:
        with pytest.raises(ReceiverError, match="check that ngsi-receiver runs"):
            list(sub)


def test_bad_start_is_rejected():
    with pytest.raises(ValueError, match="latest"):
        EventSubscriber("127.0.0.1:1", "yesterday")
