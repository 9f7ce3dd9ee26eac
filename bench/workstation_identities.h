// The workstation identities of the register benchmark (issue 4), shared by lpm_workstation_fill
// (which makes them and enrolls their keys) and lpm_register_bench (which connects as them).
//
// Making one costs about 2 ms of CPU here (a P-256 key, then the ECDSA signature of its
// self-signed certificate), so 100,000 take minutes: they are kept in one cache file and reused
// by later runs. The file holds, for each identity in order, its key PEM then its certificate
// PEM, nothing between; it is rewritten whole (a temp file renamed), mode 0600 (private keys).
#pragma once

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "lpm/error.h"
#include "lpm/files.h"
#include "lpm/protocol/keys.h"

namespace lpm::bench {

struct IdentityText {
  std::string key_pem;
  std::string cert_pem;
};

// A key PEM and a certificate PEM are each well under this; a file holding more per identity is
// not ours.
inline constexpr size_t kMaxIdentityTextBytes = 2048;
inline constexpr size_t kMaxWorkstations = 254UL * 254 * 254;

// The host name workstation i enrolls with (also its certificate's common name).
inline std::string workstation_name(size_t i) {
  return "bench-ws-" + std::to_string(i);
}

// The loopback address workstation i connects from: 127.<1 + i / 254²>.<1 + i / 254 % 254>.<1 + i
// % 254>, one per workstation as on a real network (and a port range of its own each).
inline std::string workstation_source(size_t i) {
  return "127." + std::to_string(1 + i / (254 * 254)) + "." + std::to_string(1 + i / 254 % 254) + "." +
         std::to_string(1 + i % 254);
}

// Reads the first `limit` identities of the cache file (a larger cache serves a smaller run); a
// missing file holds none.
inline Result<std::vector<IdentityText>> identities_read(const std::string &path, size_t limit) {
  if (limit > kMaxWorkstations) return make_error(Errc::bad_request, "too many identities asked for");
  std::vector<IdentityText> out;
  std::ifstream in(path);
  if (!in) {
    if (!file_exists(path)) return out;
    return make_error(Errc::io_error, "cannot read " + path);
  }
  IdentityText next;
  std::string line;
  while (out.size() < limit && std::getline(in, line)) {
    // Before the key's end line the text is the key's; after it, the certificate's.
    bool in_key =
        next.key_pem.empty() || next.key_pem.find("-----END EC PRIVATE KEY-----") == std::string::npos;
    std::string &into = in_key ? next.key_pem : next.cert_pem;
    into += line + "\n";
    if (next.key_pem.size() + next.cert_pem.size() > kMaxIdentityTextBytes)
      return make_error(Errc::bad_request,
                        path + ": identity " + std::to_string(out.size()) + " is too long");
    if (!in_key && line == "-----END CERTIFICATE-----") {
      out.push_back(std::move(next));
      next = IdentityText{};
    }
  }
  if (out.size() < limit && !next.key_pem.empty())
    return make_error(Errc::bad_request, path + ": identity " + std::to_string(out.size()) +
                                             " is cut short (delete the file to make them again)");
  return out;
}

// Runs step(i) for every i in [first, last) over `threads` threads (i, i + threads, ... each);
// a thread stops at its first error, and the first error of any thread comes back.
inline Status parallel_for(size_t first, size_t last, unsigned threads,
                           const std::function<Status(size_t)> &step) {
  threads = std::max(1U, threads);
  std::vector<Status> results(threads);
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; t++)
    workers.emplace_back([&, t] {
      for (size_t i = first + t; i < last && results[t].ok(); i += threads)
        results[t] = step(i);
    });
  for (auto &w : workers)
    w.join();
  for (const auto &r : results)
    if (!r.ok()) return r;
  return {};
}

// Makes identities until `have` holds `count` (over `threads` threads) and, when any was made,
// rewrites the cache file with all of them. Returns how many were made.
inline Result<size_t> identities_extend(const std::string &path, std::vector<IdentityText> &have,
                                        size_t count, unsigned threads) {
  if (have.size() >= count) return size_t{0};
  size_t first = have.size();
  have.resize(count);
  Status made = parallel_for(first, count, threads, [&](size_t i) -> Status {
    auto key = proto::KeyPair::generate();
    if (!key.ok()) return key.error();
    auto cert = proto::self_signed_certificate_pem(**key, workstation_name(i));
    if (!cert.ok()) return cert.error();
    have[i] = IdentityText{(*key)->private_pem(), std::move(*cert)};
    return {};
  });
  if (!made.ok()) return made.error();
  std::string text;
  for (const auto &id : have)
    text += id.key_pem + id.cert_pem;
  Status written = write_file_atomic(path, text, 0600);
  if (!written.ok()) return written.error();
  return count - first;
}

} // namespace lpm::bench
