// Fuzz target: a release station's signed outcome as the accounting server reads it back from a
// posted record (decode_signed_outcome, protocol/outcome.h; issue 6). Whatever it accepts must be
// exactly the bytes the station's encoder writes for what was read.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "lpm/protocol/outcome.h"

using namespace lpm;
using namespace lpm::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto decoded = decode_signed_outcome(bytes);
  if (!decoded.ok()) {
    if (decoded.error().code != Errc::bad_request) std::abort();
    return 0;
  }
  Bytes again = outcome_signed_bytes(decoded->status, decoded->workstation);
  if (!std::equal(again.begin(), again.end(), bytes.begin(), bytes.end())) std::abort();
  return 0;
}
