#include "lpm/protocol/ops.h"

#include "detail/field_limits.h"
#include "lpm/ids.h"
#include "lpm/protocol/session.h"

namespace lpm::proto {
namespace {
using detail::kName;
using detail::kShort;

constexpr size_t kMaxPublicKeyDer = 512;   // a P-256 SubjectPublicKeyInfo is 91 bytes
constexpr size_t kMaxSignatureDer = 160;   // an ECDSA P-256 DER signature is at most 72 bytes
constexpr size_t kMaxSignedOutcome = 4096; // outcome_signed_bytes(): ids, names and numbers

void check_uuid(MapReader &r, const std::string &value, const char *field) {
  if (r.ok() && !uuid_valid(value)) r.fail(std::string(field) + " is not a UUID");
}
void check_fingerprint(MapReader &r, const std::string &value, const char *field) {
  if (r.ok() && !fingerprint_valid(value)) r.fail(std::string(field) + " is not a key fingerprint");
}
} // namespace

void PageRequest::write(MapWriter &w) const {
  if (!after.empty()) w.str("after", after);
  w.u64("limit", limit);
}
void PageRequest::read(MapReader &r) {
  after = r.opt_str("after", "", 256); // ids, record numbers, e-mail addresses (<= 254)
  limit = r.opt_u64("limit", 100);
  if (limit == 0 || limit > kMaxPage) limit = kMaxPage;
}

const char *enroll_kind_name(EnrollKind kind) {
  switch (kind) {
  case EnrollKind::workstation: return "workstation";
  case EnrollKind::printer: return "printer";
  case EnrollKind::accounting: return "accounting";
  case EnrollKind::console: return "console";
  }
  return "workstation";
}

bool enroll_kind_parse(std::string_view text, EnrollKind &out) {
  for (EnrollKind k : {EnrollKind::workstation, EnrollKind::printer, EnrollKind::accounting, EnrollKind::console}) {
    if (text == enroll_kind_name(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

void EnrollRequest::write(MapWriter &w) const {
  w.str("token", token).str("kind", enroll_kind_name(kind)).str("name", name);
}
void EnrollRequest::read(MapReader &r) {
  token = r.str("token", 128);
  std::string k = r.str("kind", kShort);
  name = r.str("name", kName);
  if (r.ok() && !enroll_kind_parse(k, kind)) r.fail("args.kind must be workstation, printer, accounting or console");
}

void EnrollResult::write(MapWriter &w) const {
  w.str("id", id).bin("ticket_key", ticket_key);
  if (!session_key.empty()) w.bin("session_key", session_key);
}
void EnrollResult::read(MapReader &r) {
  id = r.str("id", kShort);
  ticket_key = r.bin("ticket_key", 512);
  session_key = r.opt_bin("session_key", kMaxPublicKeyDer);
  check_uuid(r, id, "result.id");
}

void RegisterRequest::write(MapWriter &w) const {
  std::vector<MapWriter> hs;
  for (const auto &h : holdings) {
    MapWriter m;
    m.str("user", h.user).u64("jobs", h.jobs);
    hs.push_back(std::move(m));
  }
  w.u64("port", port).str_array("addresses", addresses).map_array("holdings", hs);
  if (!done_commands.empty()) w.str_array("done_commands", done_commands);
  if (revocations_after != 0) w.i64("revocations_after", revocations_after);
}
void RegisterRequest::read(MapReader &r) {
  uint64_t p = r.u64("port");
  addresses = r.str_array("addresses", kMaxAddresses, kShort);
  for (auto &h : r.map_array("holdings", 10000)) {
    Holding one;
    one.user = h.str("user", kShort);
    one.jobs = h.u64("jobs");
    check_uuid(r, one.user, "args.holdings.user");
    holdings.push_back(std::move(one));
  }
  if (r.has("done_commands")) done_commands = r.str_array("done_commands", kMaxCommandsPerReply, kShort);
  revocations_after = r.opt_i64("revocations_after");
  if (r.ok() && (p == 0 || p > 65535)) r.fail("args.port must be 1..65535");
  port = static_cast<uint16_t>(p);
}

void RegisterResult::write(MapWriter &w) const {
  w.i64("now", now_ms).u64("heartbeat_s", heartbeat_s);
  if (!refused.empty()) {
    std::vector<MapWriter> items;
    for (const auto &x : refused) {
      MapWriter m;
      m.str("user", x.user).str("reason", x.reason);
      items.push_back(std::move(m));
    }
    w.map_array("refused", items);
  }
  if (!commands.empty()) {
    std::vector<MapWriter> items;
    for (const auto &c : commands) {
      MapWriter m;
      m.str("id", c.id).str("kind", c.kind).str("user", c.user).str("job", c.job);
      items.push_back(std::move(m));
    }
    w.map_array("commands", items);
  }
  if (!revoked.empty()) {
    std::vector<MapWriter> items;
    for (const auto &k : revoked) {
      MapWriter m;
      m.str("fingerprint", k.fingerprint).str("kind", enroll_kind_name(k.kind)).i64("revoked_ms", k.revoked_ms);
      items.push_back(std::move(m));
    }
    w.map_array("revoked", items);
  }
  if (retention_released_hours != 0) w.u64("retention_released_hours", retention_released_hours);
  if (retention_unreleased_hours != 0) w.u64("retention_unreleased_hours", retention_unreleased_hours);
  if (!directory_keys.empty()) w.str_array("directory_keys", directory_keys);
}
void RegisterResult::read(MapReader &r) {
  now_ms = r.i64("now");
  heartbeat_s = r.u64("heartbeat_s");
  if (r.has("refused"))
    for (auto &m : r.map_array("refused", 10000))
      refused.push_back(RefusedHoldingInfo{m.str("user", kShort), m.str("reason", kName)});
  if (r.has("commands"))
    for (auto &m : r.map_array("commands", kMaxCommandsPerReply)) {
      AgentCommand c{m.str("id", kShort), m.str("kind", kShort), m.str("user", kShort), m.opt_str("job", "", kShort)};
      if (r.ok() && c.kind != "delete-job" && c.kind != "purge-user") r.fail("result.commands.kind is unknown");
      check_uuid(r, c.user, "result.commands.user");
      commands.push_back(std::move(c));
    }
  if (r.has("revoked"))
    for (auto &m : r.map_array("revoked", kMaxRevokedPerReply)) {
      RevokedKey k{m.str("fingerprint", kShort), EnrollKind::printer, m.i64("revoked_ms")};
      if (r.ok() && !enroll_kind_parse(m.str("kind", kShort), k.kind)) r.fail("result.revoked.kind is unknown");
      if (r.ok() && !fingerprint_valid(k.fingerprint)) r.fail("result.revoked.fingerprint is not a fingerprint");
      revoked.push_back(std::move(k));
    }
  uint64_t released = r.opt_u64("retention_released_hours");
  uint64_t unreleased = r.opt_u64("retention_unreleased_hours");
  // An agent trusts its directory but not a bogus number: a year at most.
  if (r.ok() && (released > 8760 || unreleased > 8760)) r.fail("result.retention hours must be at most 8760");
  retention_released_hours = static_cast<uint32_t>(released);
  retention_unreleased_hours = static_cast<uint32_t>(unreleased);
  if (r.has("directory_keys")) directory_keys = r.str_array("directory_keys", kMaxDirectoryKeys, kShort);
  for (const auto &key : directory_keys)
    if (r.ok() && !fingerprint_valid(key)) r.fail("result.directory_keys holds something not a fingerprint");
}

void BadgeInRequest::write(MapWriter &w) const {
  w.str("badge", badge);
  if (!pin.empty()) w.str("pin", pin);
}
void BadgeInRequest::read(MapReader &r) {
  badge = r.str("badge", 128);
  if (r.ok() && badge.empty()) r.fail("args.badge is empty");
  pin = r.opt_str("pin", "", kShort);
}

MapWriter workstation_ref_map(const WorkstationRef &x) {
  MapWriter m;
  m.str("id", x.id).str("name", x.name).str_array("addresses", x.addresses).u64("port", x.port).str("fingerprint",
                                                                                                     x.fingerprint);
  return m;
}

WorkstationRef workstation_ref_read(MapReader &m, MapReader &r) {
  WorkstationRef x;
  x.id = m.str("id", kShort);
  x.name = m.str("name", kName);
  x.addresses = m.str_array("addresses", kMaxAddresses, kShort);
  uint64_t p = m.u64("port");
  x.fingerprint = m.str("fingerprint", kShort);
  if (r.ok() && (p == 0 || p > 65535)) r.fail("result.workstations.port must be 1..65535");
  x.port = static_cast<uint16_t>(p);
  check_fingerprint(r, x.fingerprint, "result.workstations.fingerprint");
  return x;
}

MapWriter badge_user_map(const BadgeUser &u) {
  MapWriter m;
  m.str("id", u.id).str("display_name", u.display_name);
  // Written only for the users Print Management counts, so other answers stay as they were.
  if (u.counted) m.boolean("counted", true).i64("quota_left", u.quota_left).boolean("color_allowed", u.color_allowed);
  return m;
}

BadgeUser badge_user_read(MapReader &m, MapReader &r) {
  BadgeUser u{m.str("id", kShort), m.str("display_name", kName)};
  check_uuid(r, u.id, "result.users.id");
  u.counted = m.opt_bool("counted");
  u.quota_left = m.opt_i64("quota_left", -1);
  u.color_allowed = m.opt_bool("color_allowed", true);
  if (r.ok() && (u.quota_left < -1 || u.quota_left > kMaxQuotaImpressions))
    r.fail("result.users.quota_left must be -1 .. " + std::to_string(kMaxQuotaImpressions));
  return u;
}

void BadgeInResult::write(MapWriter &w) const {
  if (pin_required) {
    w.boolean("pin_required", true);
    return;
  }
  std::vector<MapWriter> ws;
  for (const auto &x : workstations)
    ws.push_back(workstation_ref_map(x));
  std::vector<MapWriter> us;
  for (const auto &u : users)
    us.push_back(badge_user_map(u));
  w.str("user", user).str("display_name", display_name).map_array("workstations", ws).map("ticket", ticket.to_map());
  w.map_array("users", us);
  if (!reservation.empty()) w.str("reservation", reservation);
  if (color_denied != kColorDeniedMono) w.str("color_denied", color_denied);
}
void BadgeInResult::read(MapReader &r) {
  pin_required = r.opt_bool("pin_required");
  if (pin_required) return; // nothing else comes with it
  user = r.str("user", kShort);
  display_name = r.str("display_name", kName);
  for (auto &m : r.map_array("workstations", kMaxTicketWorkstations))
    workstations.push_back(workstation_ref_read(m, r));
  MapReader t = r.map("ticket");
  ticket = SignedTicket::from_map(t);
  if (r.has("users"))
    for (auto &m : r.map_array("users", kMaxTicketUsers))
      users.push_back(badge_user_read(m, r));
  reservation = r.opt_str("reservation", "", kShort);
  color_denied = r.opt_str("color_denied", kColorDeniedMono, kShort);
  if (r.ok() && color_denied != kColorDeniedMono && color_denied != kColorDeniedRefuse)
    r.fail("result.color_denied must be mono or refuse");
}

void ListEnrolledRequest::write(MapWriter &w) const { page.write(w); }
void ListEnrolledRequest::read(MapReader &r) { page.read(r); }

void ListEnrolledResult::write(MapWriter &w) const {
  std::vector<MapWriter> xs;
  for (const auto &k : items) {
    MapWriter m;
    m.str("id", k.id).str("kind", enroll_kind_name(k.kind)).str("name", k.name).str("fingerprint", k.fingerprint);
    xs.push_back(std::move(m));
  }
  w.map_array("items", xs).str("next", next);
}
void ListEnrolledResult::read(MapReader &r) {
  for (auto &m : r.map_array("items", kMaxPage)) {
    EnrolledKey k;
    k.id = m.str("id", kShort);
    std::string kind = m.str("kind", kShort);
    k.name = m.str("name", kName);
    k.fingerprint = m.str("fingerprint", kShort);
    if (r.ok() && !enroll_kind_parse(kind, k.kind)) r.fail("result.items.kind is unknown");
    check_fingerprint(r, k.fingerprint, "result.items.fingerprint");
    items.push_back(std::move(k));
  }
  next = r.opt_str("next", "", kShort);
}

void ListPeopleRequest::write(MapWriter &w) const {
  page.write(w);
}
void ListPeopleRequest::read(MapReader &r) {
  page.read(r);
}

void ListPeopleResult::write(MapWriter &w) const {
  std::vector<MapWriter> xs;
  for (const auto &p : items) {
    MapWriter m;
    m.str("id", p.id).str("name", p.name).str("email", p.email).str("department", p.department);
    m.str("print-group", p.print_group).str("print-group-name", p.print_group_name);
    xs.push_back(std::move(m));
  }
  w.map_array("items", xs).str("next", next);
}
void ListPeopleResult::read(MapReader &r) {
  for (auto &m : r.map_array("items", kMaxPage)) {
    PersonFacts p;
    p.id = m.str("id", kShort);
    p.name = m.opt_str("name", "", kName);
    p.email = m.opt_str("email", "", kName);
    p.department = m.opt_str("department", "", kName);
    p.print_group = m.opt_str("print-group", "", kShort);
    p.print_group_name = m.opt_str("print-group-name", "", kName);
    if (r.ok() && p.id.empty()) r.fail("result.items.id is empty");
    if (r.ok() && p.print_group.empty() != p.print_group_name.empty())
      r.fail("result.items: print-group and print-group-name come together");
    items.push_back(std::move(p));
  }
  next = r.opt_str("next", "", kShort);
}

void OpenReleaseRequest::write(MapWriter &w) const {
  w.map("ticket", ticket.to_map());
  if (!certificate.empty()) w.map("certificate", certificate.to_map());
}
void OpenReleaseRequest::read(MapReader &r) {
  MapReader t = r.map("ticket");
  ticket = SignedTicket::from_map(t);
  if (r.has("certificate")) {
    MapReader c = r.map("certificate");
    certificate = SignedPrinterCertificate::from_map(c);
  }
}

void OpenReleaseResult::write(MapWriter &w) const { w.str("workstation", workstation).str_array("users", users); }
void OpenReleaseResult::read(MapReader &r) {
  workstation = r.str("workstation", kShort);
  users = r.str_array("users", 64, kShort);
}

void JobInfo::write(MapWriter &w) const {
  w.str("id", id).str("user", user).str("title", title).str("format", format).u64("size", size).i64("pages", pages);
  w.u64("copies", copies).str("sides", sides).str("color", color).i64("submitted", submitted_ms).str("state", state);
  if (!sha256.empty()) w.bin("sha256", sha256);
  if (late_binding) w.boolean("late_binding", true);
}
void JobInfo::read(MapReader &r) {
  id = r.str("id", kShort);
  user = r.str("user", kShort);
  title = r.str("title", 1024);
  format = r.str("format", kShort);
  size = r.u64("size");
  pages = r.i64("pages");
  copies = r.u64("copies");
  sides = r.str("sides", kShort);
  color = r.str("color", kShort);
  submitted_ms = r.i64("submitted");
  state = r.str("state", kShort);
  sha256 = r.opt_bin("sha256", 32);
  if (r.ok() && !sha256.empty() && sha256.size() != 32) r.fail("job.sha256 must be 32 bytes");
  late_binding = r.opt_bool("late_binding", false);
  check_uuid(r, id, "job.id");
}

void ListJobsRequest::write(MapWriter &w) const {
  w.boolean("include_printed", include_printed);
  page.write(w);
}
void ListJobsRequest::read(MapReader &r) {
  include_printed = r.opt_bool("include_printed", false);
  page.read(r);
}

void ListJobsResult::write(MapWriter &w) const {
  std::vector<MapWriter> xs;
  for (const auto &j : jobs) {
    MapWriter m;
    j.write(m);
    xs.push_back(std::move(m));
  }
  w.map_array("jobs", xs).str("next", next);
}
void ListJobsResult::read(MapReader &r) {
  for (auto &m : r.map_array("jobs", kMaxPage)) {
    JobInfo j;
    j.read(m);
    jobs.push_back(std::move(j));
  }
  next = r.opt_str("next", "", kShort);
}

void AcknowledgeJobRequest::write(MapWriter &w) const {
  w.str("job", job);
  if (reprint) w.boolean("reprint", true); // absent: a release (what older stations send)
}
void AcknowledgeJobRequest::read(MapReader &r) {
  job = r.str("job", kShort);
  check_uuid(r, job, "args.job");
  reprint = r.opt_bool("reprint", false);
}

void AcknowledgeJobResult::write(MapWriter &w) const { w.str("claim", claim).i64("lease_ms", lease_ms); }
void AcknowledgeJobResult::read(MapReader &r) {
  claim = r.str("claim", kShort);
  lease_ms = r.i64("lease_ms");
}

void FetchDocumentRequest::write(MapWriter &w) const { w.str("job", job).str("claim", claim); }
void FetchDocumentRequest::read(MapReader &r) {
  job = r.str("job", kShort);
  claim = r.str("claim", kShort);
  check_uuid(r, job, "args.job");
}

void FetchDocumentHeader::write(MapWriter &w) const { w.u64("size", size).str("format", format).bin("sha256", sha256); }
void FetchDocumentHeader::read(MapReader &r) {
  size = r.u64("size");
  format = r.str("format", kShort);
  sha256 = r.bin("sha256", 32);
  if (r.ok() && sha256.size() != 32) r.fail("result.sha256 must be 32 bytes");
}

const char *job_outcome_name(JobOutcome outcome) {
  switch (outcome) {
  case JobOutcome::completed: return "completed";
  case JobOutcome::aborted: return "aborted";
  case JobOutcome::canceled: return "canceled";
  }
  return "aborted";
}

bool job_outcome_parse(std::string_view text, JobOutcome &out) {
  for (JobOutcome o : {JobOutcome::completed, JobOutcome::aborted, JobOutcome::canceled}) {
    if (text == job_outcome_name(o)) {
      out = o;
      return true;
    }
  }
  return false;
}

void AgentStatusResult::write(MapWriter &w) const {
  w.str("workstation", workstation).i64("now_ms", now_ms);
  w.boolean("directory_up", directory_up).i64("directory_ok_ms", directory_ok_ms);
  w.str("directory_error", directory_error).i64("directory_error_ms", directory_error_ms);
  w.boolean("skew_known", skew_known).i64("skew_ms", skew_ms);
  w.boolean("accounting_configured", accounting_configured).i64("accounting_ok_ms", accounting_ok_ms);
  w.str("accounting_error", accounting_error).u64("reporting_interval_minutes", reporting_interval_minutes);
  w.u64("outbox_records", outbox_records).i64("outbox_oldest_ms", outbox_oldest_ms);
  w.str("release_host", release_host).u64("release_port", release_port).u64("ipp_port", ipp_port);
  w.str("queue_name", queue_name).str("data_folder", data_folder);
  w.u64("data_free_bytes", data_free_bytes)
      .u64("data_total_bytes", data_total_bytes)
      .u64("held_jobs", held_jobs);
}
void AgentStatusResult::read(MapReader &r) {
  workstation = r.str("workstation", kShort);
  now_ms = r.i64("now_ms");
  directory_up = r.boolean("directory_up");
  directory_ok_ms = r.i64("directory_ok_ms");
  directory_error = r.str("directory_error", 1024);
  directory_error_ms = r.i64("directory_error_ms");
  skew_known = r.boolean("skew_known");
  skew_ms = r.i64("skew_ms");
  accounting_configured = r.boolean("accounting_configured");
  accounting_ok_ms = r.i64("accounting_ok_ms");
  accounting_error = r.str("accounting_error", 1024);
  reporting_interval_minutes = r.u64("reporting_interval_minutes");
  outbox_records = r.u64("outbox_records");
  outbox_oldest_ms = r.i64("outbox_oldest_ms");
  release_host = r.str("release_host", kShort);
  uint64_t rp = r.u64("release_port"), ip = r.u64("ipp_port");
  if (r.ok() && (rp > 65535 || ip > 65535)) r.fail("result: ports must be 0..65535");
  release_port = static_cast<uint16_t>(rp);
  ipp_port = static_cast<uint16_t>(ip);
  queue_name = r.str("queue_name", kName);
  data_folder = r.str("data_folder", 4096);
  data_free_bytes = r.u64("data_free_bytes");
  data_total_bytes = r.u64("data_total_bytes");
  held_jobs = r.u64("held_jobs");
}

void SettleQuotaRequest::write(MapWriter &w) const {
  w.str("reservation", reservation);
  if (!user.empty()) w.str("user", user);
  if (!workstation.empty()) w.str("workstation", workstation);
  if (outcome) {
    MapWriter m;
    outcome->write(m);
    w.map("outcome", m);
  }
  if (done) w.boolean("done", true);
}
void SettleQuotaRequest::read(MapReader &r) {
  reservation = r.str("reservation", kShort);
  user = r.opt_str("user", "", kShort);
  workstation = r.opt_str("workstation", "", kShort);
  if (r.has("outcome")) {
    MapReader m = r.map("outcome");
    UpdateJobStatusRequest o;
    o.read(m);
    outcome = std::move(o);
  }
  done = r.opt_bool("done");
  if (r.ok() && reservation.empty()) r.fail("args.reservation must not be empty");
  if (r.ok() && outcome && (user.empty() || workstation.empty()))
    r.fail("args.user and args.workstation come with args.outcome");
  if (r.ok() && !user.empty()) check_uuid(r, user, "args.user");
  if (r.ok() && !outcome && !done) r.fail("args: settle-quota needs an outcome, done, or both");
}
void SettleQuotaResult::write(MapWriter &w) const {
  w.i64("charged", charged).i64("quota_left", quota_left);
}
void SettleQuotaResult::read(MapReader &r) {
  charged = r.i64("charged");
  quota_left = r.i64("quota_left");
  if (r.ok() && (charged < 0 || quota_left < -1)) r.fail("result.charged must be >= 0 and quota_left >= -1");
}

void UpdateJobStatusRequest::write(MapWriter &w) const {
  w.str("job", job).str("claim", claim).str("outcome", job_outcome_name(outcome)).str("message", message);
  w.i64("pages", pages).i64("impressions", impressions).i64("sheets", sheets).i64("color_impressions", color_impressions);
  w.str("counts_source", counts_source).str("printer_name", printer_name);
  if (copies != 0) w.u64("copies", copies);
  if (!sides.empty()) w.str("sides", sides);
  if (!color.empty()) w.str("color", color);
  if (finished_ms != 0) w.i64("finished", finished_ms);
  if (!signer_key.empty()) w.bin("signer_key", signer_key);
  if (!signature.empty()) w.bin("signature", signature);
}
void UpdateJobStatusRequest::read(MapReader &r) {
  job = r.str("job", kShort);
  claim = r.str("claim", kShort);
  std::string o = r.str("outcome", kShort);
  message = r.opt_str("message", "", 1024);
  pages = r.opt_i64("pages", -1);
  impressions = r.opt_i64("impressions", -1);
  sheets = r.opt_i64("sheets", -1);
  color_impressions = r.opt_i64("color_impressions", -1);
  counts_source = r.opt_str("counts_source", "estimated", kShort);
  printer_name = r.opt_str("printer_name", "", kName);
  copies = r.opt_u64("copies", 0);
  sides = r.opt_str("sides", "", kShort);
  color = r.opt_str("color", "", kShort);
  finished_ms = r.opt_i64("finished", 0);
  signer_key = r.opt_bin("signer_key", kMaxPublicKeyDer);
  signature = r.opt_bin("signature", kMaxSignatureDer);
  check_uuid(r, job, "args.job");
  if (r.ok() && !job_outcome_parse(o, outcome)) r.fail("args.outcome must be completed, aborted or canceled");
  if (r.ok() && copies > 999) r.fail("args.copies must be 0..999 (0: as submitted)");
  if (r.ok() && !sides.empty() && sides != "one-sided" && sides != "two-sided-long-edge" &&
      sides != "two-sided-short-edge")
    r.fail("args.sides must be one-sided, two-sided-long-edge or two-sided-short-edge");
  if (r.ok() && !color.empty() && color != "color" && color != "monochrome")
    r.fail("args.color must be color or monochrome");
  if (r.ok() && counts_source != "device" && counts_source != "estimated")
    r.fail("args.counts_source must be device or estimated");
  if (r.ok() && signature.empty() != signer_key.empty())
    r.fail("args.signature and args.signer_key come together");
}

void UpdateJobStatusResult::write(MapWriter &w) const { w.str("state", state); }
void UpdateJobStatusResult::read(MapReader &r) { state = r.str("state", kShort); }

void ReportOutcomeResult::write(MapWriter &w) const { w.str("state", state).boolean("counted", counted); }
void ReportOutcomeResult::read(MapReader &r) {
  state = r.str("state", kShort);
  counted = r.opt_bool("counted", false);
}

void SubmitJobRequest::write(MapWriter &w) const {
  w.str("title", title).str("format", format).u64("size", size).u64("copies", copies).str("sides", sides).str("color",
                                                                                                              color);
}
void SubmitJobRequest::read(MapReader &r) {
  title = r.str("title", 1024);
  format = r.opt_str("format", "application/octet-stream", kShort);
  size = r.opt_u64("size", 0);
  copies = r.opt_u64("copies", 1);
  sides = r.opt_str("sides", "one-sided", kShort);
  color = r.opt_str("color", "color", kShort);
  if (r.ok() && (copies == 0 || copies > 999)) r.fail("args.copies must be 1..999");
}

void DeleteJobRequest::write(MapWriter &w) const { w.str("job", job); }
void DeleteJobRequest::read(MapReader &r) {
  job = r.str("job", kShort);
  check_uuid(r, job, "args.job");
}

void SubmitJobResult::write(MapWriter &w) const { w.str("job", job).str("state", state).str("user", user); }
void SubmitJobResult::read(MapReader &r) {
  job = r.str("job", kShort);
  state = r.str("state", kShort);
  user = r.str("user", kShort);
}

void WatchEventsRequest::write(MapWriter &w) const { w.u64("wait_ms", wait_ms); }
void WatchEventsRequest::read(MapReader &r) {
  wait_ms = r.opt_u64("wait_ms", 30000);
  if (wait_ms == 0 || wait_ms > kMaxWatchWaitMs) wait_ms = kMaxWatchWaitMs;
}

void JobEventInfo::write(MapWriter &w) const {
  w.str("job", job).str("title", title).i64("pages", pages).str("state", state).str("message", message);
  w.i64("time", time_ms);
}
void JobEventInfo::read(MapReader &r) {
  job = r.str("job", kShort);
  title = r.str("title", 1024);
  pages = r.i64("pages");
  state = r.str("state", kShort);
  message = r.str("message", 256);
  time_ms = r.i64("time");
  check_uuid(r, job, "event.job");
}

void WatchEventsResult::write(MapWriter &w) const {
  std::vector<MapWriter> xs;
  for (const auto &e : events) {
    MapWriter m;
    e.write(m);
    xs.push_back(std::move(m));
  }
  w.map_array("events", xs).u64("dropped", dropped);
}
void WatchEventsResult::read(MapReader &r) {
  for (auto &m : r.map_array("events", kMaxWatchEvents)) {
    JobEventInfo e;
    e.read(m);
    events.push_back(std::move(e));
  }
  dropped = r.opt_u64("dropped", 0);
}

void JobRecord::write(MapWriter &w) const {
  w.str("id", id).str("event", event).str("reason", reason).str("job", job).str("user", user);
  w.str("workstation", workstation).str("site", site).str("printer", printer);
  w.i64("submitted", submitted_ms).i64("event_time", event_ms).str("format", format).u64("size", size);
  w.i64("pages", pages).i64("impressions", impressions).i64("sheets", sheets).u64("copies", copies);
  w.i64("color_impressions", color_impressions).boolean("duplex", duplex).str("counts_source", counts_source);
  if (!color.empty()) w.str("color", color);
  if (!signed_outcome.empty()) w.bin("signed_outcome", signed_outcome);
  if (!signature.empty()) w.bin("signature", signature);
  if (!signer_key.empty()) w.bin("signer_key", signer_key);
  if (!signed_by.empty()) w.str("signed_by", signed_by);
}
void JobRecord::read(MapReader &r) {
  id = r.str("id", kShort);
  event = r.str("event", kShort);
  reason = r.str("reason", kShort);
  job = r.str("job", kShort);
  user = r.str("user", kShort);
  workstation = r.str("workstation", kShort);
  site = r.opt_str("site", "", kName);
  printer = r.opt_str("printer", "", kName);
  submitted_ms = r.i64("submitted");
  event_ms = r.i64("event_time");
  format = r.opt_str("format", "", kShort);
  size = r.opt_u64("size", 0);
  pages = r.opt_i64("pages", -1);
  impressions = r.opt_i64("impressions", -1);
  sheets = r.opt_i64("sheets", -1);
  copies = r.opt_u64("copies", 1);
  color_impressions = r.opt_i64("color_impressions", -1);
  duplex = r.opt_bool("duplex", false);
  counts_source = r.opt_str("counts_source", "", kShort);
  color = r.opt_str("color", "", kShort);
  signed_outcome = r.opt_bin("signed_outcome", kMaxSignedOutcome);
  signature = r.opt_bin("signature", kMaxSignatureDer);
  signer_key = r.opt_bin("signer_key", kMaxPublicKeyDer);
  signed_by = r.opt_str("signed_by", "", kShort);
  if (r.ok() && !signed_by.empty()) check_fingerprint(r, signed_by, "record.signed_by");
  check_uuid(r, id, "record.id");
  check_uuid(r, job, "record.job");
  if (r.ok() && event != "printed" && event != "deleted") r.fail("record.event must be printed or deleted");
  if (r.ok() && reason != "released" && reason != "expired" && reason != "user" && reason != "admin" &&
      reason != "failed")
    r.fail("record.reason must be released, expired, user, admin or failed");
}

void PostRecordsRequest::write(MapWriter &w) const {
  std::vector<MapWriter> xs;
  for (const auto &rec : records) {
    MapWriter m;
    rec.write(m);
    xs.push_back(std::move(m));
  }
  w.map_array("records", xs);
}
void PostRecordsRequest::read(MapReader &r) {
  for (auto &m : r.map_array("records", kMaxRecordsPerBatch)) {
    JobRecord rec;
    rec.read(m);
    records.push_back(std::move(rec));
  }
}

void PostRecordsResult::write(MapWriter &w) const { w.u64("stored", stored).u64("duplicates", duplicates); }
void PostRecordsResult::read(MapReader &r) {
  stored = r.u64("stored");
  duplicates = r.u64("duplicates");
}

void ReportTotalsRequest::write(MapWriter &w) const {
  w.i64("from", from_ms).i64("to", to_ms);
  if (!after.empty()) w.str("after", after);
  if (limit != 0) w.u64("limit", limit);
}
void ReportTotalsRequest::read(MapReader &r) {
  from_ms = r.opt_i64("from", 0);
  to_ms = r.opt_i64("to", 0);
  after = r.opt_str("after", "", kShort);
  limit = r.opt_u64("limit", 0);
}

void ReportTotalsResult::write(MapWriter &w) const {
  std::vector<MapWriter> xs;
  for (const auto &t : rows) {
    MapWriter m;
    m.str("user", t.user).u64("jobs", t.jobs).u64("pages", t.pages).u64("impressions", t.impressions).u64("bytes",
                                                                                                          t.bytes);
    xs.push_back(std::move(m));
  }
  w.map_array("rows", xs);
  if (!next.empty()) w.str("next", next);
}
void ReportTotalsResult::read(MapReader &r) {
  for (auto &m : r.map_array("rows", 100000)) {
    UserTotals t;
    t.user = m.str("user", kShort);
    t.jobs = m.u64("jobs");
    t.pages = m.u64("pages");
    t.impressions = m.u64("impressions");
    t.bytes = m.u64("bytes");
    rows.push_back(std::move(t));
  }
  next = r.opt_str("next", "", kShort);
}

void UsageReportRequest::write(MapWriter &w) const {
  w.str("session", session).str("level", level).str("entity", entity).str("type", type);
  w.str("from", from).str("to", to).str("zone", zone).u64("top", top);
  if (last != 0) w.u64("last", last);
}
void UsageReportRequest::read(MapReader &r) {
  session = r.str("session", kSessionMaxTextBytes);
  level = r.str("level", kShort);
  entity = r.opt_str("entity", "", kName);
  type = r.str("type", kShort);
  from = r.opt_str("from", "", kShort);
  to = r.opt_str("to", "", kShort);
  last = r.opt_u64("last", 0);
  zone = r.opt_str("zone", "UTC", kShort);
  top = r.opt_u64("top", 10);
  if (r.ok() && (top == 0 || top > kMaxReportRows))
    r.fail("args.top must be 1.." + std::to_string(kMaxReportRows));
  if (r.ok() && from.empty() && (last == 0 || last > kMaxReportLastDays))
    r.fail("args.from, or args.last 1.." + std::to_string(kMaxReportLastDays) + ", is required");
  if (r.ok() && !from.empty() && last != 0) r.fail("args.from and args.last exclude each other");
  if (r.ok() && from.empty() && !to.empty()) r.fail("args.to needs args.from");
}

void UsageReportResult::write(MapWriter &w) const {
  w.str("title", title).str_array("columns", columns);
  std::vector<MapWriter> xs;
  for (const auto &row : rows) {
    MapWriter m;
    m.str_array("cells", row);
    xs.push_back(std::move(m));
  }
  w.map_array("rows", xs).boolean("no_data", no_data).i64("from", from_ms).i64("to", to_ms);
}
void UsageReportResult::read(MapReader &r) {
  title = r.str("title", 1024);
  columns = r.str_array("columns", kMaxReportColumns, kShort);
  for (auto &m : r.map_array("rows", kMaxReportRows)) {
    rows.push_back(m.str_array("cells", kMaxReportColumns, kName));
    if (r.ok() && rows.back().size() != columns.size()) r.fail("result.rows: a row's cells do not match the columns");
  }
  no_data = r.boolean("no_data");
  from_ms = r.i64("from");
  to_ms = r.i64("to");
}

} // namespace lpm::proto
