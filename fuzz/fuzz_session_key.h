// The fixed directory key of fuzz_session and of its seeds (make_corpus.cpp signs them with it),
// so seeds carry valid signatures and the fuzzer reaches session_verify's checks past the
// signature. A key for fuzzing only: it signs nothing else.
#pragma once

#include <cstdint>

namespace lpm::fuzz {

inline constexpr const char *kSessionSignerPem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIJrWLbGUOrPXvX+zQggb26kBR8TqxEvJyQt/ScLajqfqoAoGCCqGSM49\n"
    "AwEHoUQDQgAESTPnRHye14E1hRaYh+CzV5rQRf+2Iipag3H9ae0UHXUQ4FXOU55V\n"
    "hx62ZAAAEPrFOaQiKNPx0yigs2RRkEtwqQ==\n"
    "-----END EC PRIVATE KEY-----\n";

// When the seeds are issued, and the clock the fuzzer verifies at: a minute later, so a seed with
// the directory's lifetime verifies.
inline constexpr int64_t kSessionIssuedMs = 1732400000000;
inline constexpr int64_t kSessionNowMs = kSessionIssuedMs + 60 * 1000;

} // namespace lpm::fuzz
