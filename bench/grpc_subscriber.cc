// nb_grpc_sub: N EventStream.Subscribe streams (each on its own channel, as N
// separate consumers would be) that count the send tags of one run per
// stream and measure the latency from the tag's send time to the event's
// arrival. Starts after the receiver's latest sequence (Info), so no event
// of the run is missed and none of an earlier run replayed. With --stall the
// streams are opened and never read (stalled consumers). Prints "ready" on
// stderr and one JSON object on stdout at the end (consumer_control.h).
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/bench_util.h"
#include "bench/consumer_control.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "ngsi_bridge/v1/receiver.grpc.pb.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Receiver gRPC address.");
ABSL_FLAG(int32_t, streams, 1, "Concurrent subscribers.");
ABSL_FLAG(int32_t, run_id, 1, "Count only tags of this run.");
ABSL_FLAG(std::string, tag_attr, "benchTag", "Attribute holding the tag.");
ABSL_FLAG(bool, stall, false, "Open the streams and never read.");
ABSL_FLAG(bool, decode, false,
          "Parse every NgsiEvent (the full client cost); by default the "
          "subscriber reads the serialized event and finds the tag in its "
          "bytes (strings are stored verbatim on the wire), so that the "
          "consumer costs a few microseconds per event and leaves the CPU "
          "to the receiver.");
ABSL_FLAG(bool, from_earliest, false,
          "Start from the earliest retained event (replay/catch-up speed: "
          "read_per_s) instead of after the latest.");
ABSL_FLAG(bool, batches, false,
          "Read through EventStream.SubscribeBatches (several events per "
          "message) instead of Subscribe.");
ABSL_FLAG(int32_t, batch_delay_ms, 0,
          "With --batches: SubscribeRequest.max_batch_delay_ms, how long a "
          "message may wait for more events.");
ABSL_FLAG(int32_t, idle_ms, 3000, "Stop this long after the last event.");
ABSL_FLAG(double, max_s, 120, "Hard stop.");

namespace nb = ngsi_bridge::bench;
namespace v1 = ngsi_bridge::v1;

namespace {

struct Stream {
  explicit Stream(uint32_t run) : counter(run) {}
  std::shared_ptr<grpc::Channel> channel;
  grpc::ClientContext context;
  std::mutex mu;
  nb::DeliveryCounter counter;
  std::atomic<uint64_t> delivered{0};
  std::atomic<int64_t> last_event{0};
  int64_t first_read_ns = 0;  // any event, tagged or not
  int64_t last_read_ns = 0;
  uint64_t events = 0;
  uint64_t untagged = 0;
  grpc::Status status;

  // Counts one event read at `now`; `tag` is null for an untagged one.
  void Count(const nb::Tag* tag, int64_t now) {
    std::lock_guard<std::mutex> lock(mu);
    if (events++ == 0) first_read_ns = now;
    last_read_ns = now;
    if (tag != nullptr) {
      counter.Record(*tag, now);
    } else {
      ++untagged;
    }
    delivered.store(counter.unique());
    last_event.store(counter.last_received_ns());
  }
};

// The tag from the event: the tag attribute of an entity, else anywhere in a
// custom body.
bool FindTag(const v1::NgsiEvent& event, const std::string& attr,
             absl::string_view& text) {
  for (const v1::Entity& entity : event.entities()) {
    auto it = entity.attrs().find(attr);
    if (it == entity.attrs().end()) continue;
    const google::protobuf::Value& value = it->second.value();
    if (value.kind_case() == google::protobuf::Value::kStringValue) {
      text = value.string_value();
      return true;
    }
  }
  const size_t at = absl::string_view(event.body()).find(nb::kTagPrefix);
  if (at == absl::string_view::npos) return false;
  text = absl::string_view(event.body()).substr(at);
  return true;
}

// Counts the serialized event `bytes` read at `now`, by the first tag in its
// bytes (a custom body may repeat it).
void CountSerialized(absl::string_view bytes, int64_t now, Stream& stream) {
  const size_t at = bytes.find(nb::kTagPrefix);
  nb::Tag parsed;
  const bool tagged = at != absl::string_view::npos &&
                      nb::ParseTag(bytes.substr(at), parsed);
  stream.Count(tagged ? &parsed : nullptr, now);
}

// Splits a serialized NgsiEventBatch into its serialized events (field 1,
// length-delimited, the only field); false when it is not one.
bool SplitBatch(absl::string_view batch,
                std::vector<absl::string_view>& events) {
  events.clear();
  while (!batch.empty()) {
    if (batch[0] != 0x0A) return false;
    uint64_t length = 0;
    size_t i = 1;
    for (int shift = 0; i < batch.size() && shift < 64; shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(batch[i++]);
      length |= uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80) == 0) break;
    }
    if (length > batch.size() - i) return false;
    events.push_back(batch.substr(i, length));
    batch.remove_prefix(i + length);
  }
  return true;
}

// Reads one stream through the generic API: the events stay serialized and
// each one's tag is found in its bytes.
void ReadRaw(grpc::GenericStub& stub, const v1::SubscribeRequest& request,
             bool batches, Stream& stream, std::atomic<int>& started) {
  grpc::CompletionQueue cq;
  // A connect that fails once (ports still in TIME_WAIT after a new-16
  // cell, a loaded receiver) is retried rather than failing the stream.
  stream.context.set_wait_for_ready(true);
  auto call = stub.PrepareCall(
      &stream.context,
      batches ? "/ngsi_bridge.v1.EventStream/SubscribeBatches"
              : "/ngsi_bridge.v1.EventStream/Subscribe",
      &cq);
  void* tag;
  bool ok = false;
  auto step = [&](int id) {
    return cq.Next(&tag, &ok) && ok && tag == reinterpret_cast<void*>(id);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  bool alive = step(1);
  std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer out(&slice, 1);
  if (alive) {
    call->Write(out, reinterpret_cast<void*>(2));
    alive = step(2);
  }
  if (alive) {
    call->WritesDone(reinterpret_cast<void*>(3));
    alive = step(3);
  }
  ++started;
  grpc::ByteBuffer in;
  std::string flat;
  std::vector<absl::string_view> events;
  while (alive) {
    call->Read(&in, reinterpret_cast<void*>(4));
    if (!step(4)) break;
    const int64_t now = nb::MonoNs();
    std::vector<grpc::Slice> slices;
    if (!in.Dump(&slices).ok()) break;
    flat.clear();
    for (const grpc::Slice& s : slices) {
      flat.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    if (!batches) {
      CountSerialized(flat, now, stream);
      continue;
    }
    if (!SplitBatch(flat, events)) {
      std::fprintf(stderr, "nb_grpc_sub: a message is not an NgsiEventBatch\n");
      break;
    }
    for (absl::string_view event : events) CountSerialized(event, now, stream);
  }
  call->Finish(&stream.status, reinterpret_cast<void*>(5));
  while (cq.Next(&tag, &ok)) {
    if (tag == reinterpret_cast<void*>(5)) break;
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string target = absl::GetFlag(FLAGS_target);
  const int count = std::max(1, absl::GetFlag(FLAGS_streams));
  const uint32_t run = static_cast<uint32_t>(absl::GetFlag(FLAGS_run_id));
  const std::string attr = absl::GetFlag(FLAGS_tag_attr);
  const bool stall = absl::GetFlag(FLAGS_stall);
  const bool batches = absl::GetFlag(FLAGS_batches);
  if (batches && absl::GetFlag(FLAGS_decode)) {
    std::fprintf(stderr, "nb_grpc_sub: --batches reads raw; drop --decode\n");
    return 2;
  }

  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < count; ++i) {
    auto stream = std::make_unique<Stream>(run);
    grpc::ChannelArguments args;
    args.SetInt("nb.bench.consumer", i);  // a connection per consumer
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(-1);
    stream->channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    streams.push_back(std::move(stream));
  }

  // Start after the latest retained event: no gap, no replay.
  v1::SubscribeRequest request;
  {
    auto stub = v1::EventStream::NewStub(streams[0]->channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    v1::InfoResponse info;
    grpc::Status status = stub->Info(&context, v1::InfoRequest(), &info);
    request.set_max_batch_delay_ms(
        static_cast<uint32_t>(absl::GetFlag(FLAGS_batch_delay_ms)));
    if (absl::GetFlag(FLAGS_from_earliest)) {
      request.set_start(v1::SubscribeRequest::EARLIEST);
    } else if (status.ok()) {
      request.set_start(v1::SubscribeRequest::AFTER);
      request.set_after_sequence(info.latest_sequence());
    } else {
      std::fprintf(stderr, "nb_grpc_sub: Info failed (%s), starting LATEST\n",
                   status.error_message().c_str());
      request.set_start(v1::SubscribeRequest::LATEST);
    }
  }

  const double cpu_before = nb::CpuSeconds();
  std::vector<std::unique_ptr<grpc::ClientReader<v1::NgsiEvent>>> readers;
  std::vector<std::thread> threads;
  const bool decode = absl::GetFlag(FLAGS_decode) || stall;
  std::vector<std::unique_ptr<grpc::GenericStub>> generic;
  std::atomic<int> started{0};
  for (int i = 0; decode ? false : i < count; ++i) {
    generic.push_back(std::make_unique<grpc::GenericStub>(streams[i]->channel));
    threads.emplace_back([&, i] {
      ReadRaw(*generic[i], request, batches, *streams[i], started);
    });
  }
  for (int waited = 0; !decode && started.load() < count && waited < 1000;
       ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& stream : streams) {
    if (!decode) break;
    auto stub = v1::EventStream::NewStub(stream->channel);
    stream->context.set_wait_for_ready(true);
    readers.push_back(stub->Subscribe(&stream->context, request));
  }
  std::fprintf(stderr, "ready\n");
  std::fflush(stderr);
  for (int i = 0; decode && i < count; ++i) {
    if (stall) break;
    threads.emplace_back([&, i] {
      Stream& stream = *streams[i];
      v1::NgsiEvent event;
      while (readers[i]->Read(&event)) {
        const int64_t now = nb::MonoNs();
        absl::string_view text;
        nb::Tag tag;
        const bool tagged = FindTag(event, attr, text) && nb::ParseTag(text, tag);
        stream.Count(tagged ? &tag : nullptr, now);
      }
      stream.status = readers[i]->Finish();
    });
  }

  const int64_t expected = nb::WaitForStop(
      [&] {
        uint64_t least = UINT64_MAX;
        for (auto& s : streams) least = std::min(least, s->delivered.load());
        return least;
      },
      [&] {
        int64_t last = 0;
        for (auto& s : streams) last = std::max(last, s->last_event.load());
        return last;
      },
      absl::GetFlag(FLAGS_idle_ms), absl::GetFlag(FLAGS_max_s));
  for (auto& stream : streams) stream->context.TryCancel();
  for (std::thread& t : threads) t.join();
  if (stall) {
    for (auto& reader : readers) {
      const grpc::Status finished = reader->Finish();  // CANCELLED
      (void)finished;
    }
  }

  uint64_t least = UINT64_MAX, total = 0, duplicates = 0, events = 0,
           untagged = 0, other = 0, failed_streams = 0;
  int64_t first = 0, last = 0, first_read = 0, last_read = 0;
  std::vector<int64_t> latencies;
  std::string first_error;
  for (auto& stream : streams) {
    std::lock_guard<std::mutex> lock(stream->mu);
    nb::DeliveryCounter& c = stream->counter;
    least = std::min(least, c.unique());
    total += c.unique();
    duplicates += c.duplicates();
    other += c.other_runs();
    events += stream->events;
    untagged += stream->untagged;
    if (c.first_sent_ns() > 0 && (first == 0 || c.first_sent_ns() < first)) {
      first = c.first_sent_ns();
    }
    last = std::max(last, c.last_received_ns());
    if (stream->first_read_ns > 0 &&
        (first_read == 0 || stream->first_read_ns < first_read)) {
      first_read = stream->first_read_ns;
    }
    last_read = std::max(last_read, stream->last_read_ns);
    latencies.insert(latencies.end(), c.latencies().begin(),
                     c.latencies().end());
    if (!stream->status.ok() &&
        stream->status.error_code() != grpc::StatusCode::CANCELLED) {
      ++failed_streams;
      if (first_error.empty()) first_error = stream->status.error_message();
    }
  }
  nb::LatencySummary latency = nb::Summarize(latencies);
  const double span = (last > first && first > 0) ? (last - first) / 1e9 : 0;
  nlohmann::json out;
  out["streams"] = count;
  out["expected"] = expected;
  out["delivered_min"] = least;
  out["delivered_total"] = total;
  out["duplicates"] = duplicates;
  out["other_runs"] = other;
  out["events"] = events;
  out["untagged_events"] = untagged;
  out["failed_streams"] = failed_streams;
  out["first_error"] = first_error;
  // Notifications/s delivered to every stream (the slowest one's count).
  out["delivered_per_s"] = span > 0 ? least / span : 0.0;
  out["e2e_p50_us"] = latency.p50_us;
  out["e2e_p99_us"] = latency.p99_us;
  out["e2e_max_us"] = latency.max_us;
  out["cpu_s"] = nb::CpuSeconds() - cpu_before;
  out["span_s"] = span;
  out["decoded"] = decode;
  // Events/s read per stream from its first to its last event (for
  // --from_earliest: how fast a consumer catches up).
  const double read_span =
      last_read > first_read ? (last_read - first_read) / 1e9 : 0;
  out["read_per_s"] = read_span > 0 ? events / count / read_span : 0.0;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
