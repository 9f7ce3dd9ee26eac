// Passwords: Argon2id PHC hashes, the caps a stored hash must respect, the password policy (UA-3)
// and the history rule.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "passwords.h"

using namespace lpm;
using namespace lpm::directory;

namespace {

// Cheap parameters: the tests below are about behaviour, not strength.
constexpr Argon2Params kFast{.iterations = 1, .memory_kib = 64, .lanes = 1};

// Sets or clears the fast-hashing variable for one scope and puts back what was there.
class FastHashingEnv {
public:
  explicit FastHashingEnv(const char *value) {
    if (const char *old = std::getenv(kFastPasswordHashingEnv)) saved_ = old;
    if (value)
      setenv(kFastPasswordHashingEnv, value, 1);
    else
      unsetenv(kFastPasswordHashingEnv);
  }
  ~FastHashingEnv() {
    if (saved_)
      setenv(kFastPasswordHashingEnv, saved_->c_str(), 1);
    else
      unsetenv(kFastPasswordHashingEnv);
  }
  FastHashingEnv(const FastHashingEnv &) = delete;
  FastHashingEnv &operator=(const FastHashingEnv &) = delete;

private:
  std::optional<std::string> saved_;
};

std::string hash_of(std::string_view password, const Argon2Params &params = kFast) {
  auto hash = password_hash(password, params);
  REQUIRE(hash.ok());
  return *hash;
}

// The salt and tag of a real hash, after its "$argon2id$v=19$m=..,t=..,p=..$".
std::string salt_and_tag(const std::string &encoded) {
  size_t params_end = encoded.find('$', std::string("$argon2id$v=19$").size());
  REQUIRE(params_end != std::string::npos);
  return encoded.substr(params_end + 1);
}

void require_bad_request(const Status &status, const std::string &message) {
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == Errc::bad_request);
  CHECK(status.error().message == message);
}

} // namespace

TEST_CASE("passwords: a hash verifies with its password and with no other (UA-4)", "[passwords][UA-4]") {
  std::string hash = hash_of("correct horse battery staple");
  auto right = password_verify(hash, "correct horse battery staple");
  REQUIRE(right.ok());
  CHECK(*right);
  for (const char *wrong : {"correct horse battery stapl", "Correct horse battery staple", "x"}) {
    auto result = password_verify(hash, wrong);
    REQUIRE(result.ok());
    CHECK_FALSE(*result);
  }
}

TEST_CASE("passwords: two hashes of one password differ (a fresh salt each) and both verify (UA-4)",
          "[passwords][UA-4]") {
  std::string first = hash_of("same password");
  std::string second = hash_of("same password");
  CHECK(first != second);
  CHECK(salt_and_tag(first).substr(0, 22) != salt_and_tag(second).substr(0, 22));
  CHECK(*password_verify(first, "same password"));
  CHECK(*password_verify(second, "same password"));
}

TEST_CASE(
    "passwords: the encoded hash is the PHC string of argon2id v=19 with its parameters, a 16-byte salt "
    "and a 32-byte tag (UA-4)",
    "[passwords][UA-4]") {
  std::string hash = hash_of("parameters", Argon2Params{.iterations = 2, .memory_kib = 72, .lanes = 3});
  std::string prefix = "$argon2id$v=19$m=72,t=2,p=3$";
  REQUIRE(hash.substr(0, prefix.size()) == prefix);
  // Unpadded base64: 16 bytes are 22 characters, 32 bytes are 43.
  CHECK(hash.size() == prefix.size() + 22 + 1 + 43);
  CHECK(hash[prefix.size() + 22] == '$');
  CHECK(*password_verify(hash, "parameters"));
}

TEST_CASE("passwords: the default parameters are RFC 9106's second recommended option (t=3, p=4, 64 MiB), "
          "one default hash and one verification (UA-4)",
          "[passwords][UA-4]") {
  FastHashingEnv env(nullptr);
  CHECK_FALSE(password_fast_hashing_enabled());
  Argon2Params params = argon2_params_default();
  CHECK(params.iterations == 3);
  CHECK(params.memory_kib == 64 * 1024);
  CHECK(params.lanes == 4);
  std::string hash = hash_of("the real thing", params);
  CHECK(hash.substr(0, 31) == "$argon2id$v=19$m=65536,t=3,p=4$");
  CHECK(*password_verify(hash, "the real thing"));
  CHECK_FALSE(*password_verify(hash, "the real thin"));
}

TEST_CASE("passwords: LPM_TEST_FAST_PASSWORD_HASHING=1 selects cheap parameters, any other value does not",
          "[passwords][UA-4]") {
  {
    FastHashingEnv env("1");
    CHECK(password_fast_hashing_enabled());
    Argon2Params params = argon2_params_default();
    CHECK(params.iterations == 1);
    CHECK(params.memory_kib == 64);
    CHECK(params.lanes == 1);
    CHECK(*password_verify(hash_of("fast", params), "fast"));
  }
  {
    FastHashingEnv env("yes");
    CHECK_FALSE(password_fast_hashing_enabled());
    CHECK(argon2_params_default().memory_kib == 64 * 1024);
  }
}

TEST_CASE("passwords: a stored hash that is not an argon2id PHC string of ours is an internal error, not a "
          "mismatch",
          "[passwords][UA-4]") {
  std::string good = hash_of("stored");
  std::string tail = salt_and_tag(good);
  for (const std::string &bad : {
           std::string(""),
           std::string("garbage"),
           std::string("stored"),                                     // a password in clear
           "$argon2i$v=19$m=64,t=1,p=1$" + tail,                      // another variant
           "$argon2d$v=19$m=64,t=1,p=1$" + tail,                      // and another
           "$argon2id$v=16$m=64,t=1,p=1$" + tail,                     // Argon2 1.0
           "$argon2id$m=64,t=1,p=1$" + tail,                          // no version
           "$argon2id$v=19$t=1,m=64,p=1$" + tail,                     // fields out of order
           "$argon2id$v=19$m=064,t=1,p=1$" + tail,                    // a second spelling of 64
           "$argon2id$v=19$m=64,t=1,p=1,keyid=x$" + tail,             // extra field
           "$argon2id$v=19$m=64,t=1,p=1$" + tail.substr(0, 22),       // no tag
           "$argon2id$v=19$m=64,t=1,p=1$" + tail + "=",               // padding
           "$argon2id$v=19$m=64,t=1,p=1$" + tail.substr(1) + "A",     // salt 21 characters, tag 44
           "$argon2id$v=19$m=64,t=1,p=1$" + tail.substr(0, 65) + "*", // not base64
           "$argon2id$v=19$m=64,t=0,p=1$" + tail,                     // t below 1
           "$argon2id$v=19$m=7,t=1,p=1$" + tail,                      // below 8 KiB per lane
           "$argon2id$v=19$m=64,t=1,p=9$" + tail,                     // 9 lanes need 72 KiB
           "$argon2id$v=19$m=99999999999,t=1,p=1$" + tail,            // 11 digits
           good + std::string(1, '\0'),
       }) {
    INFO(bad);
    auto result = password_verify(bad, "stored");
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::internal);
  }
}

TEST_CASE("passwords: a well-formed hash whose tag or parameters were changed does not match",
          "[passwords]") {
  std::string good = hash_of("stored");
  std::string tail = salt_and_tag(good);
  std::string other_tag = good;
  other_tag[good.size() - 2] = other_tag[good.size() - 2] == 'A' ? 'B' : 'A';
  for (const std::string &changed : {other_tag, "$argon2id$v=19$m=64,t=2,p=1$" + tail}) {
    auto result = password_verify(changed, "stored");
    REQUIRE(result.ok());
    CHECK_FALSE(*result);
  }
}

TEST_CASE("passwords: a stored hash naming parameters beyond the caps is refused from its text, before any "
          "hashing",
          "[passwords]") {
  std::string tail = salt_and_tag(hash_of("stored"));
  // Each would cost gigabytes or minutes if it reached libargon2; the messages show the text check caught it.
  const std::pair<std::string, std::string> cases[] = {
      {"$argon2id$v=19$m=4194305,t=1,p=1$", "m=4194305 KiB exceeds the cap of 4194304 KiB"},
      {"$argon2id$v=19$m=4294967295,t=1,p=1$", "m=4294967295 KiB exceeds the cap of 4194304 KiB"},
      {"$argon2id$v=19$m=64,t=65,p=1$", "t=65 is outside 1..64"},
      {"$argon2id$v=19$m=4096,t=4294967295,p=1$", "t=4294967295 is outside 1..64"},
      {"$argon2id$v=19$m=4096,t=1,p=65$", "p=65 is outside 1..64"},
  };
  for (const auto &[params, reason] : cases) {
    auto result = password_verify(params + tail, "stored");
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::internal);
    CHECK(result.error().message == "stored password hash is not an argon2id v=19 PHC string: " + reason);
  }
  // password_hash() applies the same caps to what it is asked to use.
  auto too_much = password_hash("x", Argon2Params{.iterations = 1, .memory_kib = 4194305, .lanes = 1});
  REQUIRE_FALSE(too_much.ok());
  CHECK(too_much.error().code == Errc::bad_request);
  CHECK(too_much.error().message == "Argon2 parameters: m=4194305 KiB exceeds the cap of 4194304 KiB");
  auto too_little = password_hash("x", Argon2Params{.iterations = 1, .memory_kib = 31, .lanes = 4});
  REQUIRE_FALSE(too_little.ok());
  CHECK(too_little.error().message ==
        "Argon2 parameters: m=31 KiB is below Argon2's minimum of 8 KiB per lane (p=4)");
}

TEST_CASE("passwords: an empty or over-long (1025-byte) password is refused before hashing and never matches",
          "[passwords][UA-4]") {
  std::string longest(kMaxPasswordBytes, 'a');
  std::string hash = hash_of(longest);
  CHECK(*password_verify(hash, longest));

  auto too_long = password_hash(longest + "a", kFast);
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error().code == Errc::bad_request);
  CHECK(too_long.error().message == "the password has 1025 bytes; at most 1024 are accepted");
  auto empty = password_hash("", kFast);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::bad_request);
  CHECK(empty.error().message == "the password is empty");

  auto long_attempt = password_verify(hash, longest + "a");
  REQUIRE(long_attempt.ok());
  CHECK_FALSE(*long_attempt);
  auto empty_attempt = password_verify(hash, "");
  REQUIRE(empty_attempt.ok());
  CHECK_FALSE(*empty_attempt);
}

TEST_CASE("password policy: length is counted in characters (UTF-8 code points), not bytes (UA-3)",
          "[passwords][UA-3]") {
  PasswordPolicy policy{.min_length = 3, .complexity = 0, .history = 0};
  CHECK(password_policy_check(policy, "ééé").ok()); // 6 bytes, 3 characters
  CHECK(password_policy_check(policy, "a😀b").ok()); // a 4-byte character counts once
  require_bad_request(password_policy_check(policy, "éé"),
                      "the password has 2 characters; the policy asks for at least 3");
  require_bad_request(password_policy_check(policy, "😀"),
                      "the password has 1 character; the policy asks for at least 3");

  PasswordPolicy defaults;
  CHECK(defaults.min_length == 12);
  require_bad_request(password_policy_check(defaults, "Abcdef1"),
                      "the password has 7 characters; the policy asks for at least 12");
}

TEST_CASE("password policy: complexity counts lower case, upper case, digits and other characters (UA-3)",
          "[passwords][UA-3]") {
  PasswordPolicy policy{.min_length = 1, .complexity = 4, .history = 0};
  CHECK(password_policy_check(policy, "aA1!").ok());
  CHECK(password_policy_check(policy, "aA1 ").ok());       // a space is "other"
  CHECK(password_policy_check(policy, "aA1é").ok());       // so is any non-ASCII character
  CHECK_FALSE(password_policy_check(policy, "bÉ2a").ok()); // É is other, not upper case
  const std::pair<const char *, int> three_of_four[] = {{"A1!", 3}, {"a1!", 3}, {"aA!", 3}, {"aA1", 3}};
  for (const auto &[password, classes] : three_of_four) {
    INFO(password);
    require_bad_request(password_policy_check(policy, password),
                        "the password uses " + std::to_string(classes) +
                            " of the 4 character classes (lower case, upper case, digits, other); the policy "
                            "asks for 4");
  }
  policy.complexity = 3;
  CHECK(password_policy_check(policy, "aA1").ok());
  require_bad_request(
      password_policy_check(policy, "aaaa1111"),
      "the password uses 2 of the 4 character classes (lower case, upper case, digits, other); "
      "the policy asks for 3");
  policy.complexity = 0;
  CHECK(password_policy_check(policy, "aaaa").ok());
}

TEST_CASE("password policy: control characters are refused, wherever they are (UA-3)", "[passwords][UA-3]") {
  PasswordPolicy policy{.min_length = 1, .complexity = 0, .history = 0};
  require_bad_request(password_policy_check(policy, "ab\tcd"),
                      "the password contains a control character (U+0009) at character 3");
  require_bad_request(password_policy_check(policy, std::string_view("ab\0cd", 5)),
                      "the password contains a control character (U+0000) at character 3");
  require_bad_request(password_policy_check(policy, "abcd\n"),
                      "the password contains a control character (U+000A) at character 5");
  require_bad_request(password_policy_check(policy, "\x7f"),
                      "the password contains a control character (U+007F) at character 1");
  require_bad_request(password_policy_check(policy, "é\xc2\x85"), // C1 NEXT LINE
                      "the password contains a control character (U+0085) at character 2");
}

TEST_CASE(
    "password policy: a password that is not valid UTF-8 is refused with the byte where it breaks (UA-3)",
    "[passwords][UA-3]") {
  PasswordPolicy policy{.min_length = 1, .complexity = 0, .history = 0};
  const std::pair<std::string, int> cases[] = {
      {"abc\xc3", 4},          // truncated 2-byte sequence
      {"\x80", 1},             // a continuation byte alone
      {"a\xc0\xaf", 2},        // overlong '/'
      {"\xe0\x80\xaf", 1},     // overlong, 3 bytes
      {"ab\xed\xa0\x80", 3},   // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", 1}, // above U+10FFFF
      {"\xff", 1},             //
      {"é\xe2\x82", 3},        // truncated 3-byte sequence
      {"\xe2\x28\xa1", 1},     // second byte not a continuation
  };
  for (const auto &[password, at] : cases) {
    INFO(password);
    require_bad_request(password_policy_check(policy, password),
                        "the password is not valid UTF-8 (at byte " + std::to_string(at) + ")");
  }
  CHECK(password_policy_check(policy, "\xf4\x8f\xbf\xbf").ok()); // U+10FFFF itself
}

TEST_CASE("password policy: empty and over-long passwords are refused by the policy check too (UA-3)",
          "[passwords][UA-3]") {
  PasswordPolicy policy{.min_length = 1, .complexity = 0, .history = 0};
  require_bad_request(password_policy_check(policy, ""), "the password is empty");
  require_bad_request(password_policy_check(policy, std::string(1025, 'a')),
                      "the password has 1025 bytes; at most 1024 are accepted");
  CHECK(password_policy_check(policy, std::string(1024, 'a')).ok());
}

TEST_CASE(
    "password policy: the policy itself is validated (min_length 1..128, complexity 0..4, history 0..24) "
    "(UA-3)",
    "[passwords][UA-3]") {
  CHECK(password_policy_validate(PasswordPolicy{}).ok());
  CHECK(password_policy_validate({.min_length = 1, .complexity = 0, .history = 0}).ok());
  CHECK(password_policy_validate({.min_length = 128, .complexity = 4, .history = 24}).ok());
  require_bad_request(password_policy_validate({.min_length = 0, .complexity = 3, .history = 5}),
                      "password policy: min_length 0 is outside 1..128");
  require_bad_request(password_policy_validate({.min_length = 129, .complexity = 3, .history = 5}),
                      "password policy: min_length 129 is outside 1..128");
  require_bad_request(password_policy_validate({.min_length = 12, .complexity = 5, .history = 5}),
                      "password policy: complexity 5 is outside 0..4");
  require_bad_request(password_policy_validate({.min_length = 12, .complexity = 3, .history = 25}),
                      "password policy: history 25 is outside 0..24");
}

TEST_CASE("password policy: history N forbids the newest N stored passwords and no older one (UA-3)",
          "[passwords][UA-3]") {
  // Newest first: "current" is the password in use now.
  std::vector<std::string> previous = {hash_of("current"), hash_of("before"), hash_of("older"),
                                       hash_of("oldest")};
  auto reused = [&](std::string_view password, uint32_t history) {
    auto result = password_reused(password, previous, history);
    REQUIRE(result.ok());
    return *result;
  };
  SECTION("history 0: every password may come back") {
    for (const char *password : {"current", "before", "older", "oldest"})
      CHECK_FALSE(reused(password, 0));
  }
  SECTION("history 1: only the current password is refused") {
    CHECK(reused("current", 1));
    CHECK_FALSE(reused("before", 1));
  }
  SECTION("history 3: the three newest are refused, the fourth may come back") {
    CHECK(reused("current", 3));
    CHECK(reused("before", 3));
    CHECK(reused("older", 3));
    CHECK_FALSE(reused("oldest", 3));
    CHECK_FALSE(reused("never used", 3));
  }
  SECTION("a history longer than what is stored checks everything stored") {
    CHECK(reused("oldest", 24));
  }
  SECTION("a damaged entry is an error when checked and ignored beyond the history") {
    previous[1] = "damaged";
    auto damaged = password_reused("anything", previous, 2);
    REQUIRE_FALSE(damaged.ok());
    CHECK(damaged.error().code == Errc::internal);
    CHECK_FALSE(reused("anything", 1));
  }
}
