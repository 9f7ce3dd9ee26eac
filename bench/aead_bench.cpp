// lpm_aead_bench: AES-256-GCM throughput of agent::Gcm, the job store's cipher, on its two paths
// in the same run: x86 AES-NI + PCLMULQDQ, eight blocks in flight (agent/gcm_x86.cpp), against
// mbedTLS 2.28 (one block at a time). Messages of 100 KB (a one-page job) and 1 MB, each sealed
// and opened whole with a 65-byte AAD (a spool chunk record's: header, job id, index, final
// flag); one Gcm per path, as the store keeps one per job. Rounds alternate the paths and the
// medians are compared. Prints one JSON line per operation and size (MB: 10^6 bytes):
//
//   {"name":"aes256gcm_seal_100kb","value":<MB/s, accelerated>,"unit":"MB/s","peer":"mbedtls",
//    "peer_value":<MB/s>,"ratio":..,"bytes":100000,"mb_per_round":..,"rounds":N,
//    "values":[..],"peer_values":[..],"accelerated":true,"chosen":"accelerated"}
//
// "accelerated": false when the CPU has no AES-NI and PCLMULQDQ (both figures are then
// mbedTLS's); "chosen" is what Gcm(key) takes in this environment (LPM_GCM_PORTABLE=1:
// "mbedtls").
//
// Usage: lpm_aead_bench [MB_PER_ROUND] [--rounds N]   (default 64 MB, 5 rounds)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <mbedtls/gcm.h>

#include "bench_support.h"
#include "detail/gcm.h"
#include "spool_crypto.h"

using lpm::agent::Bytes;
using lpm::agent::Gcm;
using lpm::agent::kNonceBytes;
using lpm::agent::kTagBytes;
using lpm::agent::SecretKey;
using lpm::agent::detail::GcmPath;
using lpm::bench::now_ns;

namespace {

constexpr size_t kAadBytes = 65;

int usage(int code) {
  std::fprintf(stderr, "usage: lpm_aead_bench [MB_PER_ROUND] [--rounds N]   (default 64 MB, 5 rounds)\n");
  return code;
}

Bytes random_bytes_of(std::mt19937_64 &rng, size_t size) {
  Bytes bytes(size);
  for (uint8_t &byte : bytes)
    byte = static_cast<uint8_t>(rng());
  return bytes;
}

struct Message {
  Bytes nonce, aad, plaintext, sealed;
};

// MB/s of sealing (or opening) the message `copies` times on one Gcm; false in `ok` when an open
// fails.
double rate(Gcm &gcm, bool seal, const Message &message, size_t copies, Bytes &out, bool &ok) {
  const int64_t start = now_ns();
  for (size_t i = 0; i < copies; i++) {
    if (seal)
      gcm.seal(message.nonce, message.aad, message.plaintext, out.data());
    else
      ok = gcm.open(message.nonce, message.aad, message.sealed, out.data()) && ok;
  }
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  return static_cast<double>(message.plaintext.size() * copies) / 1e6 / seconds;
}

double middle_value(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2]; // the upper middle for an even count
}

std::string rates_json(const std::vector<double> &rates) {
  std::string out = "[";
  for (double value : rates) {
    char number[32];
    std::snprintf(number, sizeof number, "%s%.1f", out.size() > 1 ? "," : "", value);
    out += number;
  }
  return out + "]";
}

} // namespace

int main(int argc, char **argv) {
  long mb_per_round = 64;
  long rounds = 5;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return usage(0);
    if (arg == "--rounds" && i + 1 < argc)
      rounds = std::strtol(argv[++i], nullptr, 10);
    else if (i == 1 && !arg.empty() && arg[0] != '-')
      mb_per_round = std::strtol(arg.c_str(), nullptr, 10);
    else
      return usage(2);
  }
  if (mb_per_round < 1 || mb_per_round > 100'000 || rounds < 1 || rounds > 1000) {
    std::fprintf(stderr, "lpm_aead_bench: MB_PER_ROUND must be 1..100000, --rounds 1..1000\n");
    return 2;
  }

  const bool accelerated = GcmPath::accelerated_available();
  const char *chosen = GcmPath::accelerated_chosen() ? "accelerated" : "mbedtls";
  std::mt19937_64 rng(1);
  SecretKey key;
  const Bytes key_bytes = random_bytes_of(rng, lpm::agent::kKeyBytes);
  (void)SecretKey::from(key_bytes, key);
  Gcm fast = GcmPath::make(key, true);
  Gcm portable = GcmPath::make(key, false);

  struct Size {
    const char *name;
    size_t bytes;
  };
  for (const Size &size : {Size{"100kb", 100'000}, Size{"1mb", 1'000'000}}) {
    Message message{random_bytes_of(rng, kNonceBytes),
                    random_bytes_of(rng, kAadBytes),
                    random_bytes_of(rng, size.bytes),
                    {}};
    // Not timed: both paths must give mbedTLS's own bytes, and open them back.
    message.sealed.resize(size.bytes + kTagBytes);
    mbedtls_gcm_context reference;
    mbedtls_gcm_init(&reference);
    const bool sealed_ok =
        mbedtls_gcm_setkey(&reference, MBEDTLS_CIPHER_ID_AES, key.bytes().data(), 256) == 0 &&
        mbedtls_gcm_crypt_and_tag(&reference, MBEDTLS_GCM_ENCRYPT, size.bytes, message.nonce.data(),
                                  message.nonce.size(), message.aad.data(), message.aad.size(),
                                  message.plaintext.data(), message.sealed.data(), kTagBytes,
                                  message.sealed.data() + size.bytes) == 0;
    mbedtls_gcm_free(&reference);
    Bytes out(size.bytes + kTagBytes);
    for (Gcm *gcm : {&fast, &portable}) {
      bool agrees = sealed_ok;
      gcm->seal(message.nonce, message.aad, message.plaintext, out.data());
      agrees = agrees && out == message.sealed;
      agrees = agrees && gcm->open(message.nonce, message.aad, message.sealed, out.data()) &&
               std::equal(message.plaintext.begin(), message.plaintext.end(), out.begin());
      if (!agrees) {
        std::fprintf(stderr, "lpm_aead_bench: the %s path disagrees with mbedTLS on %s\n",
                     gcm == &fast ? "accelerated" : "mbedTLS", size.name);
        return 1;
      }
    }

    const size_t copies = std::max<size_t>(1, static_cast<size_t>(mb_per_round) * 1'000'000 / size.bytes);
    for (bool seal : {true, false}) {
      std::vector<double> rates, peer_rates;
      bool ok = true;
      for (long round = 0; round < rounds; round++) {
        rates.push_back(rate(fast, seal, message, copies, out, ok));
        peer_rates.push_back(rate(portable, seal, message, copies, out, ok));
      }
      if (!ok) {
        std::fprintf(stderr, "lpm_aead_bench: an open failed on %s\n", size.name);
        return 1;
      }
      const double value = middle_value(rates), peer_value = middle_value(peer_rates);
      const std::string name = std::string("aes256gcm_") + (seal ? "seal_" : "open_") + size.name;
      std::printf(
          "{\"name\":\"%s\",\"value\":%.1f,\"unit\":\"MB/s\",\"peer\":\"mbedtls\",\"peer_value\":%.1f,"
          "\"ratio\":%.2f,\"bytes\":%zu,\"mb_per_round\":%.1f,\"rounds\":%ld,\"values\":%s,"
          "\"peer_values\":%s,\"accelerated\":%s,\"chosen\":\"%s\"}\n",
          name.c_str(), value, peer_value, value / peer_value, size.bytes,
          static_cast<double>(copies * size.bytes) / 1e6, rounds, rates_json(rates).c_str(),
          rates_json(peer_rates).c_str(), accelerated ? "true" : "false", chosen);
      std::fflush(stdout);
    }
  }
  return 0;
}
