// Fuzz target: ECDSA P-256 signature verification, differential. Input: one byte L, then L bytes
// of message, then the DER signature. PublicKey::verify (from a table of the key's multiples,
// protocol/verify_table.h, which parses the DER itself) must give exactly mbedtls_pk_verify's
// verdict on every input; any disagreement aborts. The key is fuzz_session_key.h's, so seeds
// carry valid signatures.
#include <cstdint>
#include <cstdlib>

#include <mbedtls/pk.h>

#include "fuzz_session_key.h"
#include "lpm/protocol/keys.h"

using namespace lpm;
using namespace lpm::proto;

namespace {

struct Key {
  std::unique_ptr<KeyPair> pair;
  std::unique_ptr<PublicKey> pub;
  Key() {
    auto k = KeyPair::from_pem(fuzz::kSessionSignerPem);
    if (!k.ok()) std::abort();
    pair = std::move(*k);
    pub = std::make_unique<PublicKey>(pair->public_key());
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Key key;
  if (size < 1) return 0;
  size_t len = data[0];
  if (size < 1 + len) return 0;
  std::span<const uint8_t> message(data + 1, len);
  std::span<const uint8_t> signature(data + 1 + len, size - 1 - len);
  bool ours = key.pub->verify(message, signature).ok();
  Bytes hash = sha256(message);
  bool theirs = !signature.empty() && mbedtls_pk_verify(key.pair->pk(), MBEDTLS_MD_SHA256, hash.data(), hash.size(),
                                                        signature.data(), signature.size()) == 0;
  if (ours != theirs) std::abort();
  return 0;
}
