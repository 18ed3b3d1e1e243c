#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ngsi_bridge/v1/ngsi.pb.h"

namespace ngsi_bridge::receiver {

// The on-disk format of the receiver's durable log. A log is a folder of
// segment files named after the first sequence they hold
// ("00000000000000000001.seg", 20 digits so that names sort by sequence).
// A segment is an 8-byte magic "NGSILOG1" followed by records, each:
//
//   u32 payload_length | u32 crc32c | u64 sequence | payload
//
// little-endian; crc32c covers the 8 sequence bytes and the payload; the
// payload is a serialized v1::NgsiEvent (with its sequence and received_at).
// Sequences inside a segment are consecutive, and a segment starts where the
// previous one ended, so the first invalid record is where the log ends.
inline constexpr char kSegmentMagic[] = "NGSILOG1";
inline constexpr size_t kSegmentHeaderBytes = 8;
inline constexpr size_t kRecordHeaderBytes = 16;
// Larger than any notification the intake accepts (8 MiB bodies): a length
// above it is a corrupt header, not a record.
inline constexpr uint32_t kMaxRecordPayload = uint32_t{64} << 20;

// CRC-32C (Castagnoli), software table; `crc` continues an earlier value.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

// Appends one encoded record to `out`.
void EncodeRecord(uint64_t sequence, absl::string_view payload,
                  std::string& out);

// "%020u.seg", and its inverse (false for any other name).
std::string SegmentFileName(uint64_t first_sequence);
bool ParseSegmentFileName(absl::string_view name, uint64_t& first_sequence);

// What a segment holds up to its first invalid byte.
struct SegmentScan {
  std::vector<uint32_t> offsets;  // where each valid record starts
  uint64_t valid_bytes = 0;       // end of the last valid record
  uint64_t file_bytes = 0;
  // Why the scan stopped before file_bytes ("" when the file ends cleanly):
  // torn header, torn payload, bad checksum, unexpected sequence, ...
  std::string problem;
};

// Validates `data` (a whole segment file) whose first record must carry
// `first_sequence`. Never fails: a bad magic makes every byte invalid.
SegmentScan ScanSegment(absl::string_view data, uint64_t first_sequence);

// Reads and verifies the record at `offset` of the open segment `fd`.
// kDataLoss when its header, checksum or sequence is wrong (the file changed
// under us), kInternal for an I/O error.
absl::StatusOr<v1::NgsiEvent> ReadRecordAt(int fd, uint64_t offset,
                                           uint64_t expected_sequence);

}  // namespace ngsi_bridge::receiver
