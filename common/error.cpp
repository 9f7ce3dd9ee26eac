#include "lpm/error.h"

namespace lpm {

const char *errc_name(Errc code) {
  switch (code) {
  case Errc::ok: return "ok";
  case Errc::bad_request: return "bad_request";
  case Errc::unknown_op: return "unknown_op";
  case Errc::unauthenticated: return "unauthenticated";
  case Errc::forbidden: return "forbidden";
  case Errc::not_found: return "not_found";
  case Errc::conflict: return "conflict";
  case Errc::expired: return "expired";
  case Errc::replayed: return "replayed";
  case Errc::version_mismatch: return "version_mismatch";
  case Errc::too_large: return "too_large";
  case Errc::unavailable: return "unavailable";
  case Errc::checksum_mismatch: return "checksum_mismatch";
  case Errc::protocol_error: return "protocol_error";
  case Errc::internal: return "internal";
  case Errc::io_error: return "io_error";
  case Errc::rate_limited: return "rate_limited";
  case Errc::timeout: return "timeout";
  case Errc::invalid_signature: return "invalid_signature";
  case Errc::no_space: return "no_space";
  }
  return "unknown";
}

std::string Error::to_string() const { return std::string(errc_name(code)) + ": " + message; }

} // namespace lpm
