// Errors as values: the one error-code enum of the project, shared by every component and
// carried on the wire (docs/protocol.md lists the codes; their numbers never change).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace lpm {

enum class Errc : uint16_t {
  ok = 0,
  bad_request = 1,        // a field is missing, has the wrong type or an invalid value
  unknown_op = 2,         // the peer does not implement this op
  unauthenticated = 3,    // the peer's key is not enrolled or not the pinned one
  forbidden = 4,          // authenticated, but not allowed to do this
  not_found = 5,          // the named object does not exist (or is not visible to the caller)
  conflict = 6,           // the object is in a state that refuses this (already claimed, ...)
  expired = 7,            // a ticket, token, claim or lease is past its end
  replayed = 8,           // a ticket nonce was already used
  version_mismatch = 9,   // hello: protocol major versions differ
  too_large = 10,         // a frame, field, list or file exceeds its cap
  unavailable = 11,       // a peer or resource cannot be reached now; try again later
  checksum_mismatch = 12, // a stream's SHA-256 or byte count does not match
  protocol_error = 13,    // frame-level violation (bad length, invalid msgpack, wrong order)
  internal = 14,          // a bug or an unexpected local failure; the message says what
  io_error = 15,          // local storage or socket failure
  rate_limited = 16,      // too many requests from this peer
  timeout = 17,           // a deadline passed
  invalid_signature = 18, // a signature does not verify
  no_space = 19,          // the local disk is full; nothing was stored
};

// Stable lower-case name of a code ("bad_request"); "unknown" for numbers we do not know.
const char *errc_name(Errc code);

struct Error {
  Errc code = Errc::internal;
  std::string message;

  // "bad_request: field 'badge' is missing"
  std::string to_string() const;
};

// A value or an error. Deliberately small: no exceptions, no implicit conversions to bool.
template <class T> class [[nodiscard]] Result {
public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  T &value() & { return std::get<0>(v_); }
  const T &value() const & { return std::get<0>(v_); }
  T &&value() && { return std::get<0>(std::move(v_)); }
  const Error &error() const { return std::get<1>(v_); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }

private:
  std::variant<T, Error> v_;
};

template <> class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}

  bool ok() const { return !failed_; }
  const Error &error() const { return error_; }

private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

} // namespace lpm
