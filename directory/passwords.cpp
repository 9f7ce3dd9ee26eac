// Argon2id password hashes (libargon2) and the password policy (SPEC UA-3).
#include "passwords.h"

#include <algorithm>
#include <argon2.h>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>

#include "lpm/ids.h"

namespace lpm::directory {

namespace {

constexpr std::string_view kPhcPrefix = "$argon2id$v=19$";
// Unpadded base64 lengths of the salt and the tag password_hash() writes.
constexpr size_t kSaltBase64Chars = (kArgon2SaltBytes * 4 + 2) / 3;
constexpr size_t kTagBase64Chars = (kArgon2TagBytes * 4 + 2) / 3;
// Argon2 needs at least 8 KiB of memory per lane (RFC 9106 §3.1).
constexpr uint32_t kArgon2MinMemoryKibPerLane = 8;

// Why the parameters are unusable, or "" when they are within the caps and Argon2's minimums.
std::string params_problem(uint64_t memory_kib, uint64_t iterations, uint64_t lanes) {
  if (iterations < 1 || iterations > kMaxArgon2Iterations)
    return "t=" + std::to_string(iterations) + " is outside 1.." + std::to_string(kMaxArgon2Iterations);
  if (lanes < 1 || lanes > kMaxArgon2Lanes)
    return "p=" + std::to_string(lanes) + " is outside 1.." + std::to_string(kMaxArgon2Lanes);
  if (memory_kib > kMaxArgon2MemoryKib)
    return "m=" + std::to_string(memory_kib) + " KiB exceeds the cap of " +
           std::to_string(kMaxArgon2MemoryKib) + " KiB";
  if (memory_kib < kArgon2MinMemoryKibPerLane * lanes)
    return "m=" + std::to_string(memory_kib) +
           " KiB is below Argon2's minimum of 8 KiB per lane (p=" + std::to_string(lanes) + ")";
  return "";
}

// Reads "<name>=<decimal>" at the front of text and removes it (on failure text is left in an
// unspecified place). At most 10 digits and no leading zero, so the value fits in 64 bits and
// every number has exactly one spelling.
std::optional<uint64_t> take_decimal(std::string_view &text, char name) {
  if (text.size() < 3 || text[0] != name || text[1] != '=') return std::nullopt;
  text.remove_prefix(2);
  size_t digits = 0;
  uint64_t value = 0;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; ++digits) {
    if (digits == 10) return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(text[digits] - '0');
  }
  if (digits == 0 || (digits > 1 && text[0] == '0')) return std::nullopt;
  text.remove_prefix(digits);
  return value;
}

bool take_char(std::string_view &text, char c) {
  if (text.empty() || text[0] != c) return false;
  text.remove_prefix(1);
  return true;
}

bool base64_chars(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
  });
}

// "$argon2id$v=19$m=M,t=T,p=P$<22 base64>$<43 base64>" with M, T, P within the caps, and nothing
// else; read before libargon2 sees the string. The error says what is wrong.
Status check_stored_hash(std::string_view encoded) {
  auto not_ours = [](const std::string &why) {
    return make_error(Errc::internal, "stored password hash is not an argon2id v=19 PHC string: " + why);
  };
  if (encoded.substr(0, kPhcPrefix.size()) != kPhcPrefix) return not_ours("wrong prefix");
  std::string_view rest = encoded.substr(kPhcPrefix.size());
  auto m = take_decimal(rest, 'm');
  if (!m || !take_char(rest, ',')) return not_ours("bad m=");
  auto t = take_decimal(rest, 't');
  if (!t || !take_char(rest, ',')) return not_ours("bad t=");
  auto p = take_decimal(rest, 'p');
  if (!p || !take_char(rest, '$')) return not_ours("bad p=");
  // Refused here, before libargon2 would allocate m KiB and run t passes over it.
  if (std::string problem = params_problem(*m, *t, *p); !problem.empty()) return not_ours(problem);
  if (rest.size() != kSaltBase64Chars + 1 + kTagBase64Chars || rest[kSaltBase64Chars] != '$' ||
      !base64_chars(rest.substr(0, kSaltBase64Chars)) || !base64_chars(rest.substr(kSaltBase64Chars + 1)))
    return not_ours("the salt and tag are not 16 and 32 bytes of unpadded base64");
  return {};
}

// Checked before anything else looks at a password, hashing included.
Status password_size_check(std::string_view password) {
  if (password.empty()) return make_error(Errc::bad_request, "the password is empty");
  if (password.size() > kMaxPasswordBytes)
    return make_error(Errc::bad_request, "the password has " + std::to_string(password.size()) +
                                             " bytes; at most " + std::to_string(kMaxPasswordBytes) +
                                             " are accepted");
  return {};
}

// One step of UTF-8 decoding (RFC 3629): the code point at text[pos], advancing pos; nullopt for
// a truncated sequence, a stray continuation byte, an overlong form, a surrogate or > U+10FFFF.
std::optional<char32_t> next_code_point(std::string_view text, size_t &pos) {
  auto byte = static_cast<unsigned char>(text[pos]);
  if (byte < 0x80) {
    ++pos;
    return byte;
  }
  // The lead byte gives the number of continuation bytes, its payload bits, and the smallest code
  // point that needs this many bytes (anything below is an overlong form).
  size_t extra = 0;
  char32_t smallest = 0;
  if ((byte & 0xE0) == 0xC0) {
    extra = 1;
    smallest = 0x80;
  } else if ((byte & 0xF0) == 0xE0) {
    extra = 2;
    smallest = 0x800;
  } else if ((byte & 0xF8) == 0xF0) {
    extra = 3;
    smallest = 0x10000;
  } else {
    return std::nullopt;
  }
  char32_t cp = byte & (0x3F >> extra);
  if (text.size() - pos <= extra) return std::nullopt;
  for (size_t i = 1; i <= extra; ++i) {
    auto next = static_cast<unsigned char>(text[pos + i]);
    if ((next & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (next & 0x3F);
  }
  if (cp < smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  pos += 1 + extra;
  return cp;
}

bool is_control(char32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

std::string code_point_name(char32_t cp) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string name = "U+";
  for (int shift = cp > 0xFFFF ? 20 : 12; shift >= 0; shift -= 4)
    name += kHex[(cp >> shift) & 0xF];
  return name;
}

std::string plural(uint64_t n, const char *noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

} // namespace

bool password_fast_hashing_enabled() {
  const char *value = std::getenv(kFastPasswordHashingEnv);
  return value != nullptr && std::strcmp(value, "1") == 0;
}

Argon2Params argon2_params_default() {
  // 64 KiB and one pass: about 50 µs a hash, so tests can create many users.
  if (password_fast_hashing_enabled()) return Argon2Params{.iterations = 1, .memory_kib = 64, .lanes = 1};
  return Argon2Params{};
}

Result<std::string> password_hash(std::string_view password, const Argon2Params &params) {
  if (Status size = password_size_check(password); !size.ok()) return size.error();
  if (std::string problem = params_problem(params.memory_kib, params.iterations, params.lanes);
      !problem.empty())
    return make_error(Errc::bad_request, "Argon2 parameters: " + problem);

  uint8_t salt[kArgon2SaltBytes];
  random_bytes(salt, sizeof salt);
  size_t encoded_size = argon2_encodedlen(params.iterations, params.memory_kib, params.lanes, sizeof salt,
                                          kArgon2TagBytes, Argon2_id);
  std::string encoded(encoded_size, '\0');
  int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.lanes, password.data(),
                                 password.size(), salt, sizeof salt, kArgon2TagBytes, encoded.data(),
                                 encoded.size());
  if (rc != ARGON2_OK)
    return make_error(Errc::internal, std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

Result<bool> password_verify(std::string_view encoded, std::string_view password) {
  if (Status stored = check_stored_hash(encoded); !stored.ok()) return stored.error();
  if (!password_size_check(password).ok()) return false;
  std::string encoded_text(encoded); // libargon2 wants a NUL-terminated string
  int rc = argon2id_verify(encoded_text.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  return make_error(Errc::internal, std::string("argon2id verification failed: ") + argon2_error_message(rc));
}

Status password_policy_validate(const PasswordPolicy &policy) {
  auto out_of_range = [](const char *field, uint32_t value, uint32_t low, uint32_t high) {
    return make_error(Errc::bad_request, std::string("password policy: ") + field + " " +
                                             std::to_string(value) + " is outside " + std::to_string(low) +
                                             ".." + std::to_string(high));
  };
  if (policy.min_length < kPolicyMinLengthLow || policy.min_length > kPolicyMinLengthHigh)
    return out_of_range("min_length", policy.min_length, kPolicyMinLengthLow, kPolicyMinLengthHigh);
  if (policy.complexity > kPolicyComplexityHigh)
    return out_of_range("complexity", policy.complexity, 0, kPolicyComplexityHigh);
  if (policy.history > kPolicyHistoryHigh)
    return out_of_range("history", policy.history, 0, kPolicyHistoryHigh);
  return {};
}

Status password_policy_check(const PasswordPolicy &policy, std::string_view password) {
  if (Status size = password_size_check(password); !size.ok()) return size;
  bool has_lower = false, has_upper = false, has_digit = false, has_other = false;
  uint64_t characters = 0;
  for (size_t pos = 0; pos < password.size();) {
    size_t start = pos;
    auto cp = next_code_point(password, pos);
    if (!cp)
      return make_error(Errc::bad_request,
                        "the password is not valid UTF-8 (at byte " + std::to_string(start + 1) + ")");
    ++characters;
    if (is_control(*cp))
      return make_error(Errc::bad_request, "the password contains a control character (" +
                                               code_point_name(*cp) + ") at character " +
                                               std::to_string(characters));
    if (*cp >= 'a' && *cp <= 'z')
      has_lower = true;
    else if (*cp >= 'A' && *cp <= 'Z')
      has_upper = true;
    else if (*cp >= '0' && *cp <= '9')
      has_digit = true;
    else
      has_other = true;
  }
  if (characters < policy.min_length)
    return make_error(Errc::bad_request, "the password has " + plural(characters, "character") +
                                             "; the policy asks for at least " +
                                             std::to_string(policy.min_length));
  const bool used[] = {has_lower, has_upper, has_digit, has_other};
  auto classes = static_cast<uint32_t>(std::count(std::begin(used), std::end(used), true));
  if (classes < policy.complexity)
    return make_error(Errc::bad_request, "the password uses " + std::to_string(classes) +
                                             " of the 4 character classes (lower case, upper case, digits, "
                                             "other); the policy asks for " +
                                             std::to_string(policy.complexity));
  return {};
}

Result<bool> password_reused(std::string_view password, const std::vector<std::string> &previous_hashes,
                             uint32_t history) {
  size_t checked = std::min<size_t>(history, previous_hashes.size());
  for (size_t i = 0; i < checked; ++i) {
    auto match = password_verify(previous_hashes[i], password);
    if (!match.ok()) return match.error();
    if (*match) return true;
  }
  return false;
}

} // namespace lpm::directory
