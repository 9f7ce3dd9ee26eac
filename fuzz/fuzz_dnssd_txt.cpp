// Fuzz target: the TXT record of an `_lpm-release._tcp` advertisement, as a release station reads
// it from anyone on the LAN (discovery/lpm/discovery/advert.h, issue 8). Whatever is accepted
// must be a plain id and a 64-hex fingerprint of version 1, and encode back to a record that
// decodes to the same advert.
#include <cstdint>
#include <cstdlib>

#include "lpm/discovery/advert.h"

using namespace lpm;
using namespace lpm::discovery;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto advert = decode_txt(data, size);
  if (!advert.ok()) {
    if (advert.error().code != Errc::bad_request) std::abort();
    return 0;
  }
  if (advert->version != kTxtVersion || advert->fingerprint.size() != 64 || advert->workstation_id.empty())
    std::abort();
  auto again = encode_txt(*advert);
  auto back = decode_txt(again.data(), again.size());
  if (!back.ok() || back->workstation_id != advert->workstation_id ||
      back->fingerprint != advert->fingerprint)
    std::abort();
  if (instance_name(advert->workstation_id).size() > 63) std::abort();
  return 0;
}
