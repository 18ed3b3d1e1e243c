#ifndef NGSI_BRIDGE_TESTS_TESTING_SCRATCH_DIR_H_
#define NGSI_BRIDGE_TESTS_TESTING_SCRATCH_DIR_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ngsi_bridge::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the object goes away, so tests that need files leave nothing behind.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of `name` inside the directory (not created).
  std::string PathOf(absl::string_view name) const;
  // Writes `content` to `name` inside the directory; returns its path.
  std::string Write(absl::string_view name, absl::string_view content) const;

 private:
  std::string path_;
};

}  // namespace ngsi_bridge::testing

#endif  // NGSI_BRIDGE_TESTS_TESTING_SCRATCH_DIR_H_
