#include "receiver-service/log_segment.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ngsi_bridge::receiver {
namespace {

// Built once; Debian's Abseil has no absl/crc, and zlib's crc32 is the
// other polynomial (CRC-32C detects more of the short bursts disks produce).
std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    table[i] = crc;
  }
  return table;
}

void PutU32(uint32_t value, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}
void PutU64(uint64_t value, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(value >> (8 * i));
}
uint32_t GetU32(const char* in) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(in[i]);
  }
  return value;
}
uint64_t GetU64(const char* in) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(in[i]);
  }
  return value;
}

uint32_t RecordCrc(const char* sequence_bytes, absl::string_view payload) {
  return Crc32c(payload, Crc32c(absl::string_view(sequence_bytes, 8)));
}

// Reads exactly `size` bytes at `offset`; false on a short read or error.
bool PreadAll(int fd, char* out, size_t size, uint64_t offset, int& error) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, out + done, size - done,
                            static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : 0;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

uint32_t Crc32c(absl::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  crc = ~crc;
  for (const char c : data) {
    crc = kTable[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
  }
  return ~crc;
}

void EncodeRecord(uint64_t sequence, absl::string_view payload,
                  std::string& out) {
  char header[kRecordHeaderBytes];
  PutU32(static_cast<uint32_t>(payload.size()), header);
  PutU64(sequence, header + 8);
  PutU32(RecordCrc(header + 8, payload), header + 4);
  out.append(header, kRecordHeaderBytes);
  out.append(payload.data(), payload.size());
}

std::string SegmentFileName(uint64_t first_sequence) {
  return absl::StrFormat("%020u.seg", first_sequence);
}

bool ParseSegmentFileName(absl::string_view name, uint64_t& first_sequence) {
  if (name.size() != 24 || name.substr(20) != ".seg") return false;
  for (const char c : name.substr(0, 20)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(name.substr(0, 20), &first_sequence);
}

SegmentScan ScanSegment(absl::string_view data, uint64_t first_sequence) {
  SegmentScan scan;
  scan.file_bytes = data.size();
  if (data.size() < kSegmentHeaderBytes ||
      data.substr(0, kSegmentHeaderBytes) !=
          absl::string_view(kSegmentMagic, kSegmentHeaderBytes)) {
    scan.problem = data.size() < kSegmentHeaderBytes
                       ? "torn segment header"
                       : "bad segment magic";
    return scan;
  }
  uint64_t offset = kSegmentHeaderBytes;
  uint64_t expected = first_sequence;
  while (offset < data.size()) {
    if (data.size() - offset < kRecordHeaderBytes) {
      scan.problem = absl::StrCat("torn record header at offset ", offset);
      break;
    }
    const char* header = data.data() + offset;
    const uint32_t length = GetU32(header);
    const uint32_t crc = GetU32(header + 4);
    const uint64_t sequence = GetU64(header + 8);
    if (length == 0 || length > kMaxRecordPayload) {
      scan.problem =
          absl::StrCat("bad record length ", length, " at offset ", offset);
      break;
    }
    if (data.size() - offset - kRecordHeaderBytes < length) {
      scan.problem = absl::StrCat("torn record (", length,
                                  " bytes announced) at offset ", offset);
      break;
    }
    const absl::string_view payload =
        data.substr(offset + kRecordHeaderBytes, length);
    if (RecordCrc(header + 8, payload) != crc) {
      scan.problem = absl::StrCat("checksum mismatch at offset ", offset);
      break;
    }
    if (sequence != expected) {
      scan.problem = absl::StrCat("sequence ", sequence, " where ", expected,
                                  " was expected at offset ", offset);
      break;
    }
    scan.offsets.push_back(static_cast<uint32_t>(offset));
    offset += kRecordHeaderBytes + length;
    ++expected;
  }
  // On a problem, `offset` is where the first bad record starts.
  scan.valid_bytes = offset;
  return scan;
}

absl::StatusOr<v1::NgsiEvent> ReadRecordAt(int fd, uint64_t offset,
                                           uint64_t expected_sequence) {
  char header[kRecordHeaderBytes];
  int error = 0;
  if (!PreadAll(fd, header, sizeof(header), offset, error)) {
    if (error != 0) {
      return absl::InternalError(absl::StrCat(
          "reading the event log at offset ", offset, ": ", strerror(error)));
    }
    return absl::DataLossError(
        absl::StrCat("event log record at offset ", offset, " is truncated"));
  }
  const uint32_t length = GetU32(header);
  if (length == 0 || length > kMaxRecordPayload ||
      GetU64(header + 8) != expected_sequence) {
    return absl::DataLossError(absl::StrCat(
        "event log record at offset ", offset, " is not sequence ",
        expected_sequence));
  }
  std::string payload(length, '\0');
  if (!PreadAll(fd, payload.data(), length, offset + kRecordHeaderBytes,
                error)) {
    return absl::DataLossError(absl::StrCat(
        "event log record ", expected_sequence, " is truncated"));
  }
  if (RecordCrc(header + 8, payload) != GetU32(header + 4)) {
    return absl::DataLossError(absl::StrCat(
        "event log record ", expected_sequence, " fails its checksum"));
  }
  v1::NgsiEvent event;
  if (!event.ParseFromString(payload)) {
    return absl::DataLossError(absl::StrCat(
        "event log record ", expected_sequence, " is not an NgsiEvent"));
  }
  return event;
}

}  // namespace ngsi_bridge::receiver
