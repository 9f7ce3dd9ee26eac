// The lpm-release commands, as functions main() calls after parsing (so tests can call them).
// Each returns the process exit code: 0, or 1 after one clear line on stderr.
#pragma once

#include <cstdint>
#include <string>

namespace lpm::printer {

struct InitArgs {
  std::string data;
};
// Creates the data folder (0700), the identity and state.db; prints "fingerprint <hex>".
int command_init(const InitArgs &args);

struct EnrollArgs {
  std::string data;
  std::string directory; // HOST:PORT
  std::string directory_fingerprint;
  std::string token;
  std::string name;
};
// Enrolls the station's key with the directory as a printer; remembers the id and name.
int command_enroll(const EnrollArgs &args);

struct RunArgs {
  std::string data;
  std::string directory;
  std::string directory_fingerprint;
  std::string device;         // file:///DIR, socket://HOST[:PORT], ipp://HOST[:PORT]/PATH, ipps://...
  uint32_t device_timeout_ms = 20000; // IPP: last byte -> the device's final job state
  uint32_t timeout_ms = 2000; // connect + handshake, per address
  bool no_resume = false;     // forget TLS sessions before each badge (benchmarks of cold handshakes)
  std::string name;           // printer name reported with jobs; default: the enrolled name
  std::string badge_device;   // /dev/input/eventN: badges from this input device, not standard input
  bool no_prompts = false;    // never ask for a PIN or offer self-registration (unattended)
  uint32_t prompt_timeout_ms = 60000; // a question unanswered this long is cancelled
  bool interactive = false;   // list each badge's jobs and ask which to print or delete, and how
  bool lan_discovery = false; // also try the addresses DNS-SD finds for a workstation (issue 8)
  bool offline = false;       // release without the directory from the offline table (issue 8)
};
// Releases the badges read from standard input until its end.
int command_run(const RunArgs &args);

// lpm-release discover (issue 8): the agents found on the LAN with DNS-SD, one line per change
// (discover_command.cpp).
struct DiscoverArgs {
  unsigned seconds = 5; // 0: until SIGINT or SIGTERM
  bool json = false;
};
int command_discover(const DiscoverArgs &args);

} // namespace lpm::printer
