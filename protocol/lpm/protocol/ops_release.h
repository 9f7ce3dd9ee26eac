// The directory's ops around releasing (docs/protocol.md §5.1.2): a printer's self-registration of
// a badge (badge-register, BD-1, TS-2), and the person ops for delegates (PM-7), badge PINs, the
// enterprise's badge policy and federated users (BD-5). Person ops carry the caller's session as
// in ops_admin.h; badge-register comes from an enrolled printer and answers a BadgeInResult
// (ops.h). Same conventions as ops.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpm/protocol/msg.h"
#include "lpm/protocol/ops.h"

namespace lpm::proto {

namespace op {
inline constexpr const char *badge_register = "badge-register"; // printer
inline constexpr const char *delegates_add = "delegates-add";
inline constexpr const char *delegates_remove = "delegates-remove";
inline constexpr const char *delegates_list = "delegates-list";
inline constexpr const char *pin_set = "pin-set";
inline constexpr const char *pin_clear = "pin-clear";
inline constexpr const char *badges_policy_show = "badges-policy-show";
inline constexpr const char *badges_policy_set = "badges-policy-set";
inline constexpr const char *users_set_federated = "users-set-federated";
} // namespace op

// A badge PIN is 4 to 12 ASCII digits.
inline constexpr size_t kMinPinDigits = 4;
inline constexpr size_t kMaxPinDigits = 12;
// A user names at most this many delegates, and is the delegate of at most this many users.
inline constexpr size_t kMaxDelegatesPerUser = 64;
inline constexpr size_t kMaxDelegatorsPerUser = 1000;

// badge-register (printer): an unknown badge presented at the printer becomes the permanent badge
// of the user who signs in there with e-mail and password. Answers a BadgeInResult with a ticket.
struct BadgeRegisterRequest {
  std::string badge;
  std::string email;
  std::string password;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// delegates-add, delegates-remove: `delegate` (an e-mail) may release the jobs of `delegator`
// (an e-mail; "" for the caller).
struct DelegateChangeRequest {
  std::string session;
  std::string delegate;
  std::string delegator; // optional ("")
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct DelegateChangeResult {
  std::string delegator; // e-mail
  std::string delegate;  // e-mail
  bool changed = false;  // false: already a delegate (add) or not one (remove)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// delegates-list: both directions for one user (`email`, "" for the caller).
struct DelegatesListRequest {
  std::string session;
  std::string email; // optional ("")
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct DelegateEntry {
  std::string user; // UUID
  std::string email;
  std::string display_name;
  std::string actor; // who made the delegation (audit form)
  int64_t created_ms = 0;
};
struct DelegatesListResult {
  std::string user; // UUID of the user listed
  std::string email;
  std::vector<DelegateEntry> delegates;  // may release this user's jobs
  std::vector<DelegateEntry> delegators; // whose jobs this user may release
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// pin-set: the caller's own PIN (kMinPinDigits ... kMaxPinDigits digits).
struct PinSetRequest {
  std::string session;
  std::string pin;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// pin-clear: a user's PIN (`email`; "" for the caller).
struct PinClearRequest {
  std::string session;
  std::string email; // optional ("")
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// What pin-set and pin-clear answer.
struct PinChangeResult {
  std::string email;
  bool changed = false; // pin-clear: false when no PIN was set
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// badges-policy-show (SessionRequest) and badges-policy-set: the enterprise's badge policy.
struct BadgesPolicyResult {
  std::string pin;           // "off" or "required": a PIN after the badge at printers
  std::string self_register; // "on" or "off": whether unknown badges may be registered at printers
  // Release without the directory (issue 8): hours a printer certificate lasts; 0: off. Optional
  // on read (0).
  int64_t offline_hours = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct BadgesPolicySetRequest {
  std::string session;
  std::string pin;           // optional: "off", "required", or "" to leave it
  std::string self_register; // optional: "on", "off", or "" to leave it
  int64_t offline_hours = -1; // optional: 0 (off) .. kMaxOfflineHours, or -1 to leave it
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// users-set-federated (BD-5): a federated user's badges come from the corporate directory, so
// they are never registered at a printer.
struct UsersSetFederatedRequest {
  std::string session;
  std::string email;
  bool federated = true;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UsersSetFederatedResult {
  std::string email;
  bool federated = false;
  bool changed = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

} // namespace lpm::proto
