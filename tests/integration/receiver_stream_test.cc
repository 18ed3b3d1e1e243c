// ngsi-receiver in-process on port 0: notifications in over HTTP, events out
// over gRPC EventStream and TCP line listeners.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/ngsi_json.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "ngsi_bridge/v1/receiver.grpc.pb.h"
#include "receiver-service/receiver_server.h"
#include "tests/testing/local_servers.h"

namespace ngsi_bridge {
namespace {

using ::testing::HasSubstr;
using receiver::ReceiverConfig;
using receiver::ReceiverServer;
using testing::LocalReceiverConfig;
using testing::StartReceiver;

std::string NormalizedBody(const std::string& id, const std::string& type,
                           const std::string& text = "") {
  return absl::StrCat(
      R"({"subscriptionId":"6717a1b2c3d4e5f60718293a","data":[{"id":")", id,
      R"(","type":")", type,
      R"(","temperature":{"type":"Number","value":21.5,"metadata":{}},)",
      R"("note":{"type":"Text","value":")", text, R"(","metadata":{}}}]})");
}

// Posts one NGSIv2 normalized notification; returns the HTTP status.
int Post(httplib::Client& client, const std::string& id,
         const std::string& type = "Room", const std::string& service = "",
         const std::string& text = "") {
  httplib::Headers headers = {{"Ngsiv2-AttrsFormat", "normalized"},
                              {"Fiware-ServicePath", "/madrid"}};
  if (!service.empty()) headers.emplace("Fiware-Service", service);
  auto result = client.Post("/notify", headers, NormalizedBody(id, type, text),
                            "application/json");
  return result ? result->status : -1;
}

std::unique_ptr<v1::EventStream::Stub> Stub(const ReceiverServer& server) {
  return v1::EventStream::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server.grpc_port()),
      grpc::InsecureChannelCredentials()));
}

struct StreamResult {
  std::vector<uint64_t> sequences;
  std::vector<v1::NgsiEvent> events;
  grpc::Status status;
};

// Reads the whole stream (it must end: end_sequence, error or deadline).
StreamResult ReadStream(v1::EventStream::Stub& stub,
                        const v1::SubscribeRequest& request,
                        absl::Duration deadline = absl::Seconds(30)) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(deadline));
  StreamResult result;
  auto reader = stub.Subscribe(&context, request);
  v1::NgsiEvent event;
  while (reader->Read(&event)) {
    result.sequences.push_back(event.sequence());
    result.events.push_back(event);
  }
  result.status = reader->Finish();
  return result;
}

struct BatchResult {
  std::vector<uint64_t> sequences;  // of every event, in arrival order
  std::vector<v1::NgsiEventBatch> batches;
  grpc::Status status;
};

// Reads a whole SubscribeBatches stream (it must end).
BatchResult ReadBatches(v1::EventStream::Stub& stub,
                        const v1::SubscribeRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  BatchResult result;
  auto reader = stub.SubscribeBatches(&context, request);
  v1::NgsiEventBatch batch;
  while (reader->Read(&batch)) {
    for (const v1::NgsiEvent& event : batch.events()) {
      result.sequences.push_back(event.sequence());
    }
    result.batches.push_back(batch);
  }
  result.status = reader->Finish();
  return result;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

v1::SubscribeRequest After(uint64_t after, uint64_t end) {
  v1::SubscribeRequest request;
  request.set_start(v1::SubscribeRequest::AFTER);
  request.set_after_sequence(after);
  request.set_end_sequence(end);
  return request;
}

// Waits for `condition` with a deadline (a condition wait, not a fixed
// sleep before asserting).
template <typename Condition>
bool WaitFor(Condition condition, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Waits until the receiver counts `count` gRPC consumers (a stream is
// attached, so what follows is live; or it has left the hub).
bool GrpcConsumersBecome(const ReceiverServer& server, int count) {
  const std::string line =
      absl::StrCat("ngsi_receiver_consumers{kind=\"grpc\"} ", count);
  return WaitFor([&] {
    return server.metrics().Render().find(line) != std::string::npos;
  });
}

TEST(ReceiverStreamTest, ResumeAfterReconnectHasNoGapAndNoDuplicate) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  auto stub = Stub(*server);

  // First connection: read four events, then drop the stream.
  std::vector<uint64_t> seen;
  {
    grpc::ClientContext context;
    v1::SubscribeRequest request;
    request.set_start(v1::SubscribeRequest::EARLIEST);
    auto reader = stub->Subscribe(&context, request);
    v1::NgsiEvent event;
    while (seen.size() < 4 && reader->Read(&event)) {
      seen.push_back(event.sequence());
    }
    context.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  for (int i = 10; i < 20; ++i) ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  // Reconnect after the last sequence seen.
  StreamResult second = ReadStream(*stub, After(seen.back(), 20));
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  seen.insert(seen.end(), second.sequences.begin(), second.sequences.end());
  EXPECT_EQ(seen, Range(1, 20));
  EXPECT_EQ(second.events.back().entities(0).id(), "E19");
}

TEST(ReceiverStreamTest, StartBeforeRetentionIsOutOfRangeNamingEarliest) {
  ReceiverConfig config = LocalReceiverConfig();
  config.log_max_events = 5;
  auto server = StartReceiver(config);
  httplib::Client http("127.0.0.1", server->http_port());
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  auto stub = Stub(*server);

  StreamResult gone = ReadStream(*stub, After(2, 0));
  EXPECT_EQ(gone.status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(gone.status.error_message(),
              HasSubstr("earliest retained sequence is 6"));
  EXPECT_TRUE(gone.sequences.empty());

  v1::SubscribeRequest earliest;
  earliest.set_start(v1::SubscribeRequest::EARLIEST);
  earliest.set_end_sequence(10);
  StreamResult kept = ReadStream(*stub, earliest);
  EXPECT_TRUE(kept.status.ok()) << kept.status.error_message();
  EXPECT_EQ(kept.sequences, Range(6, 10));

  StreamResult beyond = ReadStream(*stub, After(50, 0));
  EXPECT_EQ(beyond.status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(beyond.status.error_message(), HasSubstr("beyond the latest"));
}

TEST(ReceiverStreamTest, SubscriberFallingOutOfRetentionEndsWithOutOfRange) {
  ReceiverConfig config = LocalReceiverConfig();
  config.log_max_events = 20;
  config.subscriber_queue = 4;
  auto server = StartReceiver(config);
  httplib::Client http("127.0.0.1", server->http_port());
  // A client whose flow-control window stays small (no BDP probing), so the
  // transport cannot absorb what the application does not read.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  arguments.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 65536);
  auto stub = v1::EventStream::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", server->grpc_port()),
      grpc::InsecureChannelCredentials(), arguments));

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  auto reader = stub->Subscribe(&context, After(0, 0));
  // Stalled: reads nothing while 3000 events (12 MB, far beyond both the
  // gRPC buffers and the retention of 20) go by.
  const std::string text(4000, 'x');
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(Post(http, absl::StrCat("E", i), "Room", "", text), 204);
  }
  std::vector<uint64_t> received;
  v1::NgsiEvent event;
  while (reader->Read(&event)) received.push_back(event.sequence());
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("fell behind"));
  // What it got before the end has no gap.
  EXPECT_EQ(received, Range(1, received.size()));
  EXPECT_LT(received.size(), 3000u);
}

TEST(ReceiverStreamTest, StalledSubscriberDoesNotSlowAFastOne) {
  ReceiverConfig config = LocalReceiverConfig();
  config.subscriber_queue = 8;
  auto server = StartReceiver(config);
  httplib::Client http("127.0.0.1", server->http_port());
  auto stub = Stub(*server);
  constexpr int kEvents = 2000;

  grpc::ClientContext stalled_context;
  auto stalled = stub->Subscribe(&stalled_context, After(0, 0));

  StreamResult fast;
  std::thread reader([&] { fast = ReadStream(*stub, After(0, kEvents)); });
  const std::string text(400, 'y');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(Post(http, absl::StrCat("E", i), "Room", "", text), 204);
  }
  reader.join();
  const double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
  EXPECT_TRUE(fast.status.ok()) << fast.status.error_message();
  EXPECT_EQ(fast.sequences, Range(1, kEvents));
  EXPECT_LT(seconds, 30.0);
  stalled_context.TryCancel();
  stalled->Finish().IgnoreError();
}

TEST(ReceiverStreamTest, FiftyConcurrentSubscribersEachGetEveryEvent) {
  auto server = StartReceiver(LocalReceiverConfig());
  auto stub = Stub(*server);
  constexpr int kSubscribers = 50;
  constexpr int kEvents = 300;
  std::vector<StreamResult> results(kSubscribers);
  std::vector<std::thread> readers;
  for (int i = 0; i < kSubscribers; ++i) {
    readers.emplace_back(
        [&, i] { results[i] = ReadStream(*stub, After(0, kEvents)); });
  }
  // Two concurrent senders: publication order differs from sequence order.
  std::vector<std::thread> senders;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 2; ++t) {
    senders.emplace_back([&, t] {
      httplib::Client http("127.0.0.1", server->http_port());
      for (int i = 0; i < kEvents / 2; ++i) {
        if (Post(http, absl::StrCat("T", t, "-", i)) == 204) ++accepted;
      }
    });
  }
  for (auto& sender : senders) sender.join();
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(accepted.load(), kEvents);
  for (int i = 0; i < kSubscribers; ++i) {
    EXPECT_TRUE(results[i].status.ok()) << i << results[i].status.error_message();
    EXPECT_EQ(results[i].sequences, Range(1, kEvents)) << "subscriber " << i;
  }
}

TEST(ReceiverStreamTest, FiltersAndProjectionApplyOnTheServer) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  ASSERT_EQ(Post(http, "urn:Room:1", "Room", "tenant_a"), 204);
  ASSERT_EQ(Post(http, "urn:Car:1", "Car", "tenant_a"), 204);
  ASSERT_EQ(Post(http, "urn:Room:2", "Room", "tenant_b"), 204);
  ASSERT_EQ(Post(http, "urn:Room:3", "Room", "tenant_a"), 204);
  auto stub = Stub(*server);

  v1::SubscribeRequest request = After(0, 4);
  request.mutable_filter()->set_service("tenant_a");
  request.mutable_filter()->set_entity_type("Room");
  request.mutable_filter()->add_attrs("temperature");
  StreamResult rooms = ReadStream(*stub, request);
  ASSERT_TRUE(rooms.status.ok()) << rooms.status.error_message();
  EXPECT_EQ(rooms.sequences, (std::vector<uint64_t>{1, 4}));
  for (const v1::NgsiEvent& event : rooms.events) {
    ASSERT_EQ(event.entities_size(), 1);
    EXPECT_EQ(event.entities(0).attrs().size(), 1u);
    EXPECT_TRUE(event.entities(0).attrs().contains("temperature"));
  }

  v1::SubscribeRequest pattern = After(0, 4);
  pattern.mutable_filter()->set_entity_id_pattern("urn:Room:[23]");
  pattern.mutable_filter()->set_service_path_prefix("/madrid");
  StreamResult matched = ReadStream(*stub, pattern);
  EXPECT_EQ(matched.sequences, (std::vector<uint64_t>{3, 4}));

  v1::SubscribeRequest bad = After(0, 4);
  bad.mutable_filter()->set_entity_id_pattern("(");
  EXPECT_EQ(ReadStream(*stub, bad).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(ReceiverStreamTest, BatchesCarryABacklogInOrderWithinTheBatchBound) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  for (int i = 0; i < 600; ++i) {
    ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  }
  auto stub = Stub(*server);
  v1::SubscribeRequest request = After(0, 600);
  request.set_max_batch_events(100);
  BatchResult result = ReadBatches(*stub, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.sequences, Range(1, 600));
  size_t largest = 0;
  for (const v1::NgsiEventBatch& batch : result.batches) {
    EXPECT_GE(batch.events_size(), 1);
    largest = std::max(largest, static_cast<size_t>(batch.events_size()));
  }
  // Everything was retained before the stream started: it goes out in full
  // batches, not one event per message.
  EXPECT_EQ(largest, 100u);
  EXPECT_LT(result.batches.size(), 600u);
  // Each event is the one Subscribe sends (compared as messages: the
  // serialized order of map entries is not fixed).
  StreamResult single = ReadStream(*stub, After(0, 600));
  ASSERT_EQ(single.events.size(), 600u);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      result.batches[0].events(0), single.events[0]));
}

TEST(ReceiverStreamTest, BatchesStopGrowingPastAMebibyte) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  const std::string text(200 * 1024, 'x');
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(Post(http, absl::StrCat("E", i), "Room", "", text), 204);
  }
  auto stub = Stub(*server);
  BatchResult result = ReadBatches(*stub, After(0, 12));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.sequences, Range(1, 12));
  EXPECT_GT(result.batches.size(), 1u);
  for (const v1::NgsiEventBatch& batch : result.batches) {
    // A batch closes once it reaches 1 MiB: at most one event beyond it.
    EXPECT_LT(batch.ByteSizeLong(), (size_t{1} << 20) + 210 * 1024);
  }
}

TEST(ReceiverStreamTest, BatchesFollowLiveEventsAndApplyFilters) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  auto stub = Stub(*server);
  v1::SubscribeRequest request = After(0, 6);
  request.mutable_filter()->set_entity_type("Room");
  request.mutable_filter()->add_attrs("temperature");
  BatchResult result;
  std::thread reader([&] { result = ReadBatches(*stub, request); });
  // Live: each event is posted once the stream is open, one at a time.
  ASSERT_TRUE(GrpcConsumersBecome(*server, 1));
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(Post(http, absl::StrCat("E", i), i % 2 == 0 ? "Room" : "Car"),
              204);
  }
  reader.join();
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.sequences, (std::vector<uint64_t>{1, 3, 5}));
  for (const v1::NgsiEventBatch& batch : result.batches) {
    for (const v1::NgsiEvent& event : batch.events()) {
      ASSERT_EQ(event.entities_size(), 1);
      EXPECT_EQ(event.entities(0).type(), "Room");
      EXPECT_EQ(event.entities(0).attrs().size(), 1u);
    }
  }
}

TEST(ReceiverStreamTest, BatchDelayGathersLiveEventsIntoOneMessage) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  auto stub = Stub(*server);
  v1::SubscribeRequest request = After(0, 10);
  // The first event waits up to a second for company; ten local POSTs take
  // milliseconds.
  request.set_max_batch_delay_ms(1000);
  BatchResult result;
  std::thread reader([&] { result = ReadBatches(*stub, request); });
  ASSERT_TRUE(GrpcConsumersBecome(*server, 1));
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  }
  reader.join();
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.sequences, Range(1, 10));
  EXPECT_EQ(result.batches.size(), 1u);
}

TEST(ReceiverStreamTest, BatchDelayNeverHoldsAFullBatchOrALoneEvent) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  auto stub = Stub(*server);
  v1::SubscribeRequest request = After(0, 8);
  request.set_max_batch_events(3);
  request.set_max_batch_delay_ms(50);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto reader = stub->SubscribeBatches(&context, request);
  ASSERT_TRUE(GrpcConsumersBecome(*server, 1));
  // One event and no other: it leaves when its delay ends.
  ASSERT_EQ(Post(http, "E0"), 204);
  v1::NgsiEventBatch batch;
  ASSERT_TRUE(reader->Read(&batch));
  ASSERT_EQ(batch.events_size(), 1);
  EXPECT_EQ(batch.events(0).sequence(), 1u);
  // Seven more: full batches of three leave without waiting; the rest
  // (sequence 8, the stream's end) too.
  for (int i = 1; i < 8; ++i) {
    ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  }
  std::vector<uint64_t> sequences;
  while (reader->Read(&batch)) {
    EXPECT_LE(batch.events_size(), 3);
    for (const v1::NgsiEvent& event : batch.events()) {
      sequences.push_back(event.sequence());
    }
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(sequences, Range(2, 8));
}

TEST(ReceiverStreamTest, StreamCancelledWhileItsBatchWaitsEndsCleanly) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  auto stub = Stub(*server);
  v1::SubscribeRequest request = After(0, 0);
  request.set_max_batch_delay_ms(1000);
  grpc::ClientContext context;
  auto reader = stub->SubscribeBatches(&context, request);
  ASSERT_TRUE(GrpcConsumersBecome(*server, 1));
  ASSERT_EQ(Post(http, "E0"), 204);  // now waiting for company
  context.TryCancel();
  v1::NgsiEventBatch batch;
  while (reader->Read(&batch)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(GrpcConsumersBecome(*server, 0));
  // The receiver goes on serving new streams, the waiting event included.
  ASSERT_EQ(Post(http, "E1"), 204);
  BatchResult result = ReadBatches(*stub, After(0, 2));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.sequences, Range(1, 2));
}

TEST(ReceiverStreamTest, LatestStartsAfterTheHeadAndInfoReportsTheRange) {
  auto server = StartReceiver(LocalReceiverConfig());
  httplib::Client http("127.0.0.1", server->http_port());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  auto stub = Stub(*server);

  v1::InfoResponse info;
  grpc::ClientContext info_context;
  ASSERT_TRUE(stub->Info(&info_context, v1::InfoRequest(), &info).ok());
  EXPECT_EQ(info.earliest_sequence(), 1u);
  EXPECT_EQ(info.latest_sequence(), 3u);
  EXPECT_EQ(info.retained_events(), 3u);
  EXPECT_GT(info.retained_bytes(), 0u);

  v1::SubscribeRequest latest;
  latest.set_end_sequence(5);
  StreamResult result;
  std::thread reader([&] { result = ReadStream(*stub, latest); });
  // The subscription is live once the receiver counts it as a consumer.
  ASSERT_TRUE(GrpcConsumersBecome(*server, 1));
  for (int i = 3; i < 5; ++i) ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  reader.join();
  EXPECT_TRUE(result.status.ok());
  EXPECT_EQ(result.sequences, (std::vector<uint64_t>{4, 5}));
}

TEST(ReceiverStreamTest, DeadlineEndsTheStreamAndDetachesTheSubscriber) {
  auto server = StartReceiver(LocalReceiverConfig());
  auto stub = Stub(*server);
  StreamResult result = ReadStream(*stub, After(0, 0), absl::Milliseconds(300));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The reactor finished and left the hub: no consumer is left behind.
  EXPECT_TRUE(GrpcConsumersBecome(*server, 0));
}

TEST(ReceiverStreamTest, ShutdownEndsOpenStreamsWithUnavailable) {
  auto server = StartReceiver(LocalReceiverConfig());
  auto stub = Stub(*server);
  grpc::ClientContext context;
  auto reader = stub->Subscribe(&context, After(0, 0));
  ASSERT_TRUE(GrpcConsumersBecome(*server, 1));
  server->Shutdown();
  v1::NgsiEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// A blocking TCP client of a line listener.
class LineClient {
 public:
  explicit LineClient(int port, int receive_buffer = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                 sizeof(receive_buffer));
    }
    timeval timeout{30, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
        0;
  }
  ~LineClient() { close(fd_); }
  bool connected() const { return connected_; }

  // The next line without '\n'; false at EOF, error or timeout.
  bool ReadLine(std::string& line) {
    for (;;) {
      const size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return true;
      }
      char chunk[65536];
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      buffer_.append(chunk, n);
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

TEST(ReceiverLineTest, EveryLineClientReceivesEveryEvent) {
  ReceiverConfig config = LocalReceiverConfig();
  config.line_listeners = {{0, "event-json"}, {0, "body"}};
  auto server = StartReceiver(config);
  const std::vector<int> ports = server->line_ports();
  ASSERT_EQ(ports.size(), 2u);
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<LineClient>(ports[0]));
  }
  auto body_client = std::make_unique<LineClient>(ports[1]);
  ASSERT_TRUE(WaitFor(
      [&] { return server->line_server().client_count() == 4; }));

  httplib::Client http("127.0.0.1", server->http_port());
  constexpr int kEvents = 200;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(Post(http, absl::StrCat("E", i)), 204);
  }
  for (auto& client : clients) {
    for (int i = 0; i < kEvents; ++i) {
      std::string line;
      ASSERT_TRUE(client->ReadLine(line)) << "event " << i;
      auto event = common::EventFromJsonLine(line);
      ASSERT_TRUE(event.ok()) << event.status();
      EXPECT_EQ(event->sequence(), static_cast<uint64_t>(i + 1));
      EXPECT_EQ(event->entities(0).id(), absl::StrCat("E", i));
    }
  }
  for (int i = 0; i < kEvents; ++i) {
    std::string line;
    ASSERT_TRUE(body_client->ReadLine(line));
    EXPECT_EQ(line, NormalizedBody(absl::StrCat("E", i), "Room"));
  }
}

TEST(ReceiverLineTest, ClientThatStopsReadingIsDisconnectedAndCounted) {
  ReceiverConfig config = LocalReceiverConfig();
  config.line_client_buffer_bytes = 64 << 10;
  auto server = StartReceiver(config);
  const int port = server->line_ports()[0];
  LineClient stalled(port, /*receive_buffer=*/4096);
  LineClient reading(port);
  ASSERT_TRUE(WaitFor(
      [&] { return server->line_server().client_count() == 2; }));

  httplib::Client http("127.0.0.1", server->http_port());
  const std::string text(4000, 'z');
  std::atomic<bool> done{false};
  std::atomic<int> read_lines{0};
  int sent = 0;
  // The reading client keeps up meanwhile.
  std::thread reader([&] {
    std::string line;
    while (!done.load() && reading.ReadLine(line)) ++read_lines;
  });
  while (server->line_server().disconnected_slow_count() == 0 && sent < 20000) {
    // Never more than 8 lines (32 KB) ahead of the reading client, so that
    // on a starved machine it is not the one that overflows its buffer.
    ASSERT_TRUE(WaitFor([&] { return read_lines.load() + 8 >= sent; }));
    ASSERT_EQ(Post(http, absl::StrCat("E", sent), "Room", "", text), 204);
    ++sent;
  }
  EXPECT_EQ(server->line_server().disconnected_slow_count(), 1u);
  EXPECT_THAT(server->metrics().Render(),
              HasSubstr("ngsi_receiver_consumer_disconnects_total{kind=\"line\","
                        "reason=\"buffer_full\"} 1"));
  ASSERT_TRUE(WaitFor(
      [&] { return server->line_server().client_count() == 1; }));
  // The stalled client sees what was sent, then the end: never a silent gap.
  std::string line;
  int lines = 0;
  while (stalled.ReadLine(line)) ++lines;
  EXPECT_LT(lines, sent);
  done = true;
  server->Shutdown();
  reader.join();
}

}  // namespace
}  // namespace ngsi_bridge
