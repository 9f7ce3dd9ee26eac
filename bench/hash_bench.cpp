// lpm_hash_bench: SHA-256 throughput of proto::Sha256 on its two paths in the same run, the x86
// SHA extensions (protocol/sha256_x86.cpp) against mbedTLS 2.28's portable code, over a 100 KB
// document (a one-page release, hashed at both ends of every release: the sending pump and the
// station's check, and by the agent's spool) and a 1 MB one. Each document is hashed whole in
// 64 KiB updates, as the streaming pumps feed it; rounds alternate the paths and the medians are
// compared. Prints one JSON line per size (MB: 10^6 bytes):
//
//   {"name":"sha256_100kb","value":<MB/s, SHA extensions>,"unit":"MB/s","peer":"mbedtls",
//    "peer_value":<MB/s>,"ratio":..,"bytes":100000,"mb_per_round":..,"rounds":N,
//    "values":[..],"peer_values":[..],"accelerated":true,"chosen":"accelerated"}
//
// "accelerated": false when the CPU has no SHA extensions (both figures are then mbedTLS's);
// "chosen" is what Sha256() takes in this environment (LPM_SHA256_PORTABLE=1: "mbedtls").
//
// Usage: lpm_hash_bench [MB_PER_ROUND] [--rounds N]   (default 64 MB, 5 rounds)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <mbedtls/sha256.h>

#include "bench_support.h"
#include "detail/sha256.h"
#include "lpm/protocol/keys.h"

using lpm::bench::now_ns;
using lpm::proto::Bytes;
using lpm::proto::Sha256;
using lpm::proto::detail::Sha256Path;

namespace {

constexpr size_t kUpdateBytes = 64 * 1024;

int usage(int code) {
  std::fprintf(stderr, "usage: lpm_hash_bench [MB_PER_ROUND] [--rounds N]   (default 64 MB, 5 rounds)\n");
  return code;
}

Bytes hash_document(bool accelerated, std::span<const uint8_t> document) {
  Sha256 hash = Sha256Path::make(accelerated);
  for (size_t at = 0; at < document.size(); at += kUpdateBytes)
    hash.update(document.subspan(at, std::min(kUpdateBytes, document.size() - at)));
  return hash.finish();
}

// MB/s of hashing the document `copies` times on one path.
double hash_rate(bool accelerated, std::span<const uint8_t> document, size_t copies) {
  int64_t start = now_ns();
  for (size_t i = 0; i < copies; i++)
    (void)hash_document(accelerated, document);
  double seconds = static_cast<double>(now_ns() - start) / 1e9;
  return static_cast<double>(document.size() * copies) / 1e6 / seconds;
}

double middle_value(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2]; // the upper middle for an even count
}

std::string rates_json(const std::vector<double> &rates) {
  std::string out = "[";
  for (double rate : rates) {
    char number[32];
    std::snprintf(number, sizeof number, "%s%.1f", out.size() > 1 ? "," : "", rate);
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
    std::fprintf(stderr, "lpm_hash_bench: MB_PER_ROUND must be 1..100000, --rounds 1..1000\n");
    return 2;
  }

  const bool accelerated = Sha256Path::accelerated_available();
  const char *chosen = Sha256Path::accelerated_chosen() ? "accelerated" : "mbedtls";
  std::mt19937_64 rng(1);
  struct Size {
    const char *name;
    size_t bytes;
  };
  for (const Size &size : {Size{"sha256_100kb", 100'000}, Size{"sha256_1mb", 1'000'000}}) {
    Bytes document(size.bytes);
    for (uint8_t &byte : document)
      byte = static_cast<uint8_t>(rng());
    // Not timed: both paths must give mbedTLS's own digest.
    Bytes expected(32);
    (void)mbedtls_sha256_ret(document.data(), document.size(), expected.data(), 0);
    if (hash_document(true, document) != expected || hash_document(false, document) != expected) {
      std::fprintf(stderr, "lpm_hash_bench: the two paths disagree on %s\n", size.name);
      return 1;
    }
    const size_t copies = std::max<size_t>(1, static_cast<size_t>(mb_per_round) * 1'000'000 / size.bytes);
    std::vector<double> rates, peer_rates;
    for (long round = 0; round < rounds; round++) {
      rates.push_back(hash_rate(true, document, copies));
      peer_rates.push_back(hash_rate(false, document, copies));
    }
    double value = middle_value(rates), peer_value = middle_value(peer_rates);
    std::printf("{\"name\":\"%s\",\"value\":%.1f,\"unit\":\"MB/s\",\"peer\":\"mbedtls\",\"peer_value\":%.1f,"
                "\"ratio\":%.2f,\"bytes\":%zu,\"mb_per_round\":%.1f,\"rounds\":%ld,\"values\":%s,"
                "\"peer_values\":%s,\"accelerated\":%s,\"chosen\":\"%s\"}\n",
                size.name, value, peer_value, value / peer_value, size.bytes,
                static_cast<double>(copies * size.bytes) / 1e6, rounds, rates_json(rates).c_str(),
                rates_json(peer_rates).c_str(), accelerated ? "true" : "false", chosen);
    std::fflush(stdout);
  }
  return 0;
}
