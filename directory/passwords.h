// Passwords of directory users (SPEC UA-3, UA-4): Argon2id hashing in the PHC string form, and the
// enterprise's password policy (length, complexity, history).
//
// Every function is synchronous and thread-safe. Hashing and verifying with the default
// parameters take tens of milliseconds of CPU and 64 MiB of memory: run them off the event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"

namespace lpm::directory {

// A password is at most this many bytes, checked before any hashing: Argon2's cost must not
// grow with what an attacker sends.
inline constexpr size_t kMaxPasswordBytes = 1024;

// Caps on the parameters a stored hash may name, so that a tampered row cannot make one
// verification take gigabytes or minutes.
inline constexpr uint32_t kMaxArgon2MemoryKib = 4u * 1024 * 1024; // 4 GiB
inline constexpr uint32_t kMaxArgon2Iterations = 64;
inline constexpr uint32_t kMaxArgon2Lanes = 64;

// Salt and tag sizes of RFC 9106 §4 (the hashes we write use exactly these).
inline constexpr size_t kArgon2SaltBytes = 16;
inline constexpr size_t kArgon2TagBytes = 32;

// Set to "1" in tests only: argon2_params_default() then returns cheap, insecure parameters.
inline constexpr const char *kFastPasswordHashingEnv = "LPM_TEST_FAST_PASSWORD_HASHING";

struct Argon2Params {
  uint32_t iterations = 3;     // t
  uint32_t memory_kib = 65536; // m
  uint32_t lanes = 4;          // p
};

// RFC 9106 §4, second recommended option: t=3, p=4, m=64 MiB (with a 16-byte salt and a 32-byte
// tag). When LPM_TEST_FAST_PASSWORD_HASHING=1 is set, t=1, m=64 KiB, p=1 instead: a hash takes
// well under a millisecond and resists no attack at all. Only tests set it; the directory is to
// log a warning at start-up when it is on (password_fast_hashing_enabled()).
Argon2Params argon2_params_default();
// True when the test-only override above is in effect.
bool password_fast_hashing_enabled();

// The PHC string "$argon2id$v=19$m=<kib>,t=<iterations>,p=<lanes>$<salt>$<tag>" (libargon2's
// encoded form; unpadded base64) with a fresh 16-byte salt from getrandom() and a 32-byte tag.
// bad_request when the password is empty or longer than kMaxPasswordBytes (checked before
// hashing), or when params are outside the caps above or below Argon2's minimums
// (memory_kib >= 8 * lanes); internal when libargon2 fails (out of memory).
Result<std::string> password_hash(std::string_view password, const Argon2Params &params);

// True when password matches the stored hash, false when it does not (an empty or over-long
// password never matches: password_hash() refuses those). The comparison is constant-time with
// respect to the stored tag (libargon2's). internal when `encoded` is not an argon2id v=19 PHC
// string of the shape password_hash() writes, or names parameters beyond the caps; this is
// decided from the string alone, before any memory is allocated for hashing.
Result<bool> password_verify(std::string_view encoded, std::string_view password);

// UA-3: the enterprise's password requirements, saved together with one "update".
struct PasswordPolicy {
  uint32_t min_length = 12; // characters, i.e. UTF-8 code points
  uint32_t complexity = 3;  // how many of the 4 character classes a password must use
  uint32_t history = 5;     // how many previous passwords may not be reused
};
// The ranges password_policy_validate() accepts.
inline constexpr uint32_t kPolicyMinLengthLow = 1;
inline constexpr uint32_t kPolicyMinLengthHigh = 128;
inline constexpr uint32_t kPolicyComplexityHigh = 4;
inline constexpr uint32_t kPolicyHistoryHigh = 24;

// bad_request naming the field and its range when the policy is out of range: min_length 1..128,
// complexity 0..4, history 0..24.
Status password_policy_validate(const PasswordPolicy &policy);

// Whether a new password satisfies the policy's length and complexity. The four character classes
// are lower-case ASCII letters, upper-case ASCII letters, ASCII digits and anything else (other
// ASCII and every non-ASCII character). bad_request with one user-facing reason, e.g.
// "the password has 7 characters; the policy asks for at least 12", for: empty or over
// kMaxPasswordBytes, invalid UTF-8, a control character (C0, DEL, C1), too short, too few classes.
// History is not checked here: see password_reused().
Status password_policy_check(const PasswordPolicy &policy, std::string_view password);

// UA-3 history: true when password matches one of the newest `history` entries of
// previous_hashes (ordered newest first; the current password is entry 0, so history 1 forbids
// keeping the current password). Errors of password_verify() on a checked entry come back as they
// are. Each entry checked costs one verification.
Result<bool> password_reused(std::string_view password, const std::vector<std::string> &previous_hashes,
                             uint32_t history);

} // namespace lpm::directory
