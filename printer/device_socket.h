// The AppSocket (JetDirect) device: socket://HOST[:PORT] (port 9100 by default). Each job is one
// TCP connection carrying the raw document; the station half-closes it after the last byte and
// waits for the printer to close its side (it does once it has taken the job), as CUPS's socket
// backend does. Everything runs on the loop (libuv TCP). The device applies no job settings
// and reports no counts.
#pragma once

#include <memory>
#include <string>

#include "device.h"

namespace lpm::printer {

struct SocketAddress {
  std::string host; // a name, an IPv4 literal, or an IPv6 literal without brackets
  uint16_t port = 9100;
};

// Parses socket://HOST[:PORT][/], IPv6 as [V6][:PORT]; anything after the authority is refused.
Result<SocketAddress> parse_socket_uri(std::string_view uri);

Result<std::unique_ptr<Device>> open_socket_device(uv_loop_t *loop, const std::string &uri,
                                                   const DeviceOptions &options);

} // namespace lpm::printer
