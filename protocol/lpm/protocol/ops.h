// The typed ops of protocol v0 (docs/protocol.md lists every field). Each message is a struct
// with write() into a MapWriter and read() from a MapReader, so every component encodes and
// checks the same fields the same way. read() leaves errors in the reader (reader.ok()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lpm/protocol/msg.h"
#include "lpm/protocol/printer_certificate.h"
#include "lpm/protocol/ticket.h"

namespace lpm::proto {

// Hello roles.
namespace role {
inline constexpr const char *agent = "agent";           // lpm-agent (release service, and as a client)
inline constexpr const char *directory = "directory";   // lpm-directory
inline constexpr const char *printer = "printer";       // lpm-release
inline constexpr const char *accounting = "accounting"; // lpm-accounting
inline constexpr const char *cli = "cli";               // lpm, on the agent's Unix socket
inline constexpr const char *console = "console";       // lpm, an enrolled admin console over TLS
} // namespace role

// Op names.
namespace op {
// directory
inline constexpr const char *enroll = "enroll";
inline constexpr const char *register_holdings = "register";
inline constexpr const char *badge_in = "badge-in";
inline constexpr const char *settle_quota = "settle-quota";
inline constexpr const char *list_enrolled = "list-enrolled";
// The people accounting stamps and names records with (issue 6; RP-10, RP-11, RP-12).
inline constexpr const char *list_people = "list-people";
// agent release service
inline constexpr const char *open_release = "open-release";
inline constexpr const char *list_jobs = "list-jobs";
inline constexpr const char *acknowledge_job = "acknowledge-job";
inline constexpr const char *fetch_document = "fetch-document";
inline constexpr const char *update_job_status = "update-job-status";
// A station reporting, after its restart, an outcome it journaled but could not deliver (no
// ticket, no open-release: the claim's station key authorises it; see docs/protocol.md).
inline constexpr const char *report_outcome = "report-outcome";
// agent local socket
inline constexpr const char *submit_job = "submit-job";
inline constexpr const char *local_jobs = "local-jobs";
inline constexpr const char *delete_job = "delete-job";
inline constexpr const char *watch_events = "watch-events";
// `lpm doctor` (issue 7): how the agent is doing, for any local user.
inline constexpr const char *agent_status = "agent-status";
// accounting
inline constexpr const char *post_records = "post-records";
inline constexpr const char *report_totals = "report-totals";
inline constexpr const char *usage_report = "usage-report";
} // namespace op

// Limits on list sizes in messages.
inline constexpr size_t kMaxPage = 500;
inline constexpr size_t kMaxAddresses = 16;

// Paging: a request names where to start and how many; a reply gives the cursor of the next page
// ("" when this was the last).
struct PageRequest {
  std::string after; // cursor from the previous reply; "" for the first page
  uint64_t limit = 100;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// ---- directory ------------------------------------------------------------------------------

enum class EnrollKind { workstation, printer, accounting, console };
const char *enroll_kind_name(EnrollKind kind);
bool enroll_kind_parse(std::string_view text, EnrollKind &out);

struct EnrollRequest {
  std::string token;
  EnrollKind kind = EnrollKind::workstation;
  std::string name; // host or printer name, shown to administrators
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct EnrollResult {
  std::string id;     // workstation / printer / service id (UUIDv7)
  Bytes ticket_key;   // DER public key that signs release tickets
  Bytes session_key;  // DER public key that signs session tokens (accounting servers check them)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct Holding {
  std::string user; // directory user UUID
  uint64_t jobs = 0;
};
// A command for an agent, delivered with register replies (DESIGN §4: how administrators manage
// other users' queues): delete one job of a user, or purge every job of a user.
inline constexpr size_t kMaxCommandsPerReply = 100;
struct AgentCommand {
  std::string id;   // UUIDv7; the agent names it in done_commands once carried out
  std::string kind; // "delete-job" or "purge-user"
  std::string user; // directory user UUID whose job(s) go
  std::string job;  // delete-job: the job's id
};
struct RegisterRequest {
  uint16_t port = 0;                  // release service port
  std::vector<std::string> addresses; // the agent's own view of its LAN addresses
  std::vector<Holding> holdings;      // users with held jobs here (a user with 0 withdraws)
  std::vector<std::string> done_commands; // commands carried out since the last register (optional)
  int64_t revocations_after = 0; // the newest revocation the agent knows (revoked_ms); 0: none
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct RefusedHoldingInfo {
  std::string user;
  std::string reason;
};
// A key the directory revoked (DESIGN §3): agents refuse release stations and accounting
// servers presenting it, even with a ticket issued before the revocation.
struct RevokedKey {
  Fingerprint fingerprint;
  EnrollKind kind = EnrollKind::printer;
  int64_t revoked_ms = 0;
};
inline constexpr size_t kMaxRevokedPerReply = 1000;
inline constexpr size_t kMaxDirectoryKeys = 8;
struct RegisterResult {
  int64_t now_ms = 0;           // the directory's clock
  uint64_t heartbeat_s = 0;     // register again within this
  std::vector<RefusedHoldingInfo> refused; // holdings not taken (unknown user, not bound here); optional
  std::vector<AgentCommand> commands;      // to carry out, then name in done_commands; optional
  // Printer and accounting keys revoked at or after revocations_after, oldest first, at most
  // kMaxRevokedPerReply (the agent asks again from the newest it got); optional.
  std::vector<RevokedKey> revoked;
  // The enterprise's retention policy (RT-2): the agent keeps no job longer; 0: no limit.
  uint32_t retention_released_hours = 0;
  uint32_t retention_unreleased_hours = 0;
  // The directory's TLS keys: the one it answers with and the next one of a rotation, which the
  // agent adds to its pins (it learns them over a connection it already trusts); optional.
  std::vector<Fingerprint> directory_keys;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct BadgeInRequest {
  std::string badge;
  std::string pin; // optional: the PIN, when an earlier answer said pin_required (written only when set)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct WorkstationRef {
  std::string id;
  std::string name;
  std::vector<std::string> addresses; // "IP" strings, best first
  uint16_t port = 0;
  Fingerprint fingerprint;
};
// A user whose jobs a ticket covers.
struct BadgeUser {
  std::string id; // directory user UUID
  std::string display_name;
  // Print Management's limits at badge-in (AMB-17), for users it manages (`counted`): the
  // station sends settle-quota for each of their printed jobs. Users it does not manage print
  // without limits. Optional on read (an older directory: not counted, no quota, colour).
  bool counted = false;
  int64_t quota_left = -1;   // impressions still allowed this calendar month; -1: no quota
  bool color_allowed = true; // false: their print group does not allow colour
};
// What a release station does with a colour job of a user who may not print in colour (the
// enterprise's print policy): print it in monochrome (on a device that applies settings), or
// refuse it (it stays held).
inline constexpr const char *kColorDeniedMono = "mono";
// The largest monthly quota (the same as ops_print.h's kMaxQuota).
inline constexpr int64_t kMaxQuotaImpressions = 1'000'000'000;
inline constexpr const char *kColorDeniedRefuse = "refuse";
// What badge-in and badge-register answer. Either a ticket (pin_required false), or only
// pin_required true: the enterprise asks for a PIN, so the station asks for it and badges in again
// with it; user, workstations, ticket and users are then empty (and not written).
// One workstation and one user as badge-in answers (and the offline table, ops_offline.h)
// carry them; the readers record errors in `r` (the enclosing reader).
MapWriter workstation_ref_map(const WorkstationRef &x);
WorkstationRef workstation_ref_read(MapReader &m, MapReader &r);
MapWriter badge_user_map(const BadgeUser &u);
BadgeUser badge_user_read(MapReader &m, MapReader &r);

struct BadgeInResult {
  bool pin_required = false; // optional on read (false)
  std::string user;
  std::string display_name;
  std::vector<WorkstationRef> workstations;
  SignedTicket ticket;
  // The ticket's users: the badge's user first, then those who delegated to them (PM-7).
  // Optional on read: an older directory does not send it (the ticket names `user` alone).
  std::vector<BadgeUser> users;
  // Quota held for the counted users until the station settles it (settle-quota), or it lapses;
  // "" when no user is counted. Optional on read.
  std::string reservation;
  std::string color_denied = kColorDeniedMono; // kColorDeniedMono or kColorDeniedRefuse; optional on read
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct EnrolledKey {
  std::string id;
  EnrollKind kind = EnrollKind::workstation;
  std::string name;
  Fingerprint fingerprint;
};
struct ListEnrolledRequest {
  PageRequest page;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct ListEnrolledResult {
  std::vector<EnrolledKey> items;
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// What the accounting server needs to know of a user: their print group and department, stamped
// on the records they print (reports by group and department), and the name and e-mail reports
// show and search by. A user the directory no longer lists was deleted: accounting keeps their
// records and forgets the name (RP-10).
struct PersonFacts {
  std::string id;
  std::string name; // display name, else "first last"
  std::string email;
  std::string department;       // "" when none
  std::string print_group;      // the live group's id, "" when none
  std::string print_group_name; // its name
};
struct ListPeopleRequest {
  PageRequest page;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct ListPeopleResult {
  std::vector<PersonFacts> items;
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// ---- agent release service ------------------------------------------------------------------

struct OpenReleaseRequest {
  SignedTicket ticket;
  // Only with a ticket the station signed itself (issue 8): the directory's certificate of its
  // key. Optional on read (empty).
  SignedPrinterCertificate certificate;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct OpenReleaseResult {
  std::string workstation;
  std::vector<std::string> users;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct JobInfo {
  std::string id;
  std::string user;
  std::string title;
  std::string format; // MIME type
  uint64_t size = 0;
  int64_t pages = -1; // -1: unknown
  uint64_t copies = 1;
  std::string sides = "one-sided";
  std::string color = "color";
  int64_t submitted_ms = 0;
  std::string state;  // held, claimed, printing, printed
  Bytes sha256;       // 32 bytes: the stored document's digest (optional: empty when not sent)
  // The workstation's LateBindingEnabled: the station may change copies, sides and color mode
  // at the device. Optional on read (false: an older agent); written only when true.
  bool late_binding = false;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct ListJobsRequest {
  bool include_printed = false;
  PageRequest page;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct ListJobsResult {
  std::vector<JobInfo> jobs;
  std::string next;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct AcknowledgeJobRequest {
  std::string job;
  bool reprint = false; // a printed job kept for reprint may be claimed only when this says so
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct AcknowledgeJobResult {
  std::string claim;
  int64_t lease_ms = 0; // the claim is valid this long after the reply
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct FetchDocumentRequest {
  std::string job;
  std::string claim;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// Header of the document stream; the chunks and the end frame (SHA-256) follow.
struct FetchDocumentHeader {
  uint64_t size = 0;
  std::string format;
  Bytes sha256; // the stored digest, which the end frame repeats
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

enum class JobOutcome { completed, aborted, canceled };
const char *job_outcome_name(JobOutcome outcome);
bool job_outcome_parse(std::string_view text, JobOutcome &out);

struct UpdateJobStatusRequest {
  std::string job;
  std::string claim;
  JobOutcome outcome = JobOutcome::completed;
  std::string message;      // the device's words on failure
  int64_t pages = -1;
  int64_t impressions = -1;
  int64_t sheets = -1;
  int64_t color_impressions = -1;
  std::string counts_source = "estimated"; // "device" when the device reported the counts
  std::string printer_name;
  // Issue 5 (all optional on read, written only when set, so older senders still read):
  uint64_t copies = 0;      // copies the device was asked for; 0: as submitted
  std::string sides;        // sides the device was asked for; "": as submitted
  std::string color;        // "color" or "monochrome" as applied; "": as submitted
  int64_t finished_ms = 0;  // when the station saw the job end (its clock); 0: not said
  Bytes signer_key;         // DER public key of the station (its TLS key) that signed
  Bytes signature;          // ECDSA P-256 (DER) over outcome_signed_bytes() (outcome.h)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// settle-quota (DESIGN §4 step 4): a release station charges a counted user's printed job to
// their monthly quota, from the outcome it signed, and lets the reservation of a badge-in go
// once its release is over (`done`). Each claim of a job is charged once.
struct SettleQuotaRequest {
  std::string reservation;
  std::string user;        // the job's owner, one of the reservation's users ("" with done alone)
  std::string workstation; // the workstation the outcome was reported to
  std::optional<UpdateJobStatusRequest> outcome; // signed by the calling station; absent with done alone
  bool done = false;                             // the release is over: the rest of the reservation goes back
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct SettleQuotaResult {
  int64_t charged = 0;     // impressions charged by this call (0: a repeat, or done alone)
  int64_t quota_left = -1; // what the user may still print this month; -1: no quota (or done alone)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UpdateJobStatusResult {
  std::string state; // the job's state after the update
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// report-outcome carries the same fields as update-job-status.
using ReportOutcomeRequest = UpdateJobStatusRequest;
struct ReportOutcomeResult {
  std::string state;    // the job's state after the report
  bool counted = false; // true when this report queued the job's accounting record
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// ---- agent local socket ---------------------------------------------------------------------

struct SubmitJobRequest {
  std::string title;
  std::string format = "application/octet-stream";
  uint64_t size = 0; // announced size (the stream's end frame is what counts)
  uint64_t copies = 1;
  std::string sides = "one-sided";
  std::string color = "color";
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
// delete-job (control socket): the caller deletes one of their own jobs.
struct DeleteJobRequest {
  std::string job;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct SubmitJobResult {
  std::string job;
  std::string state;
  std::string user;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// agent-status (control socket, no arguments): what `lpm doctor` checks. Times are the agent's
// wall clock in ms; 0: never.
struct AgentStatusResult {
  std::string workstation; // the enrolled workstation id
  int64_t now_ms = 0;
  // The directory: the link up, the last register answered, the last failure, and the directory's
  // clock against ours at that answer (directory - agent, ms; skew_known false before any).
  bool directory_up = false;
  int64_t directory_ok_ms = 0;
  std::string directory_error;
  int64_t directory_error_ms = 0;
  bool skew_known = false;
  int64_t skew_ms = 0;
  // The accounting server: configured, the last batch acknowledged, the last failure.
  bool accounting_configured = false;
  int64_t accounting_ok_ms = 0;
  std::string accounting_error;
  uint64_t reporting_interval_minutes = 0;
  // The outbox: records waiting, the oldest one's event time.
  uint64_t outbox_records = 0;
  int64_t outbox_oldest_ms = 0;
  // Listeners: the release service (printers connect here), the IPP capture printer and its queue.
  std::string release_host;
  uint16_t release_port = 0;
  uint16_t ipp_port = 0;
  std::string queue_name;
  // The data folder's file system.
  std::string data_folder;
  uint64_t data_free_bytes = 0;
  uint64_t data_total_bytes = 0;
  uint64_t held_jobs = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// watch-events (control socket): a long poll for events about the caller's own jobs. The first
// call on a connection subscribes it and is answered at once with none; later calls are answered
// as soon as events are queued for this connection, else with none after wait_ms.
inline constexpr uint64_t kMaxWatchWaitMs = 60000; // below the 120 s idle deadline
inline constexpr size_t kMaxWatchEvents = 32;      // events queued per watcher; more are dropped
struct WatchEventsRequest {
  uint64_t wait_ms = 30000; // 0 or over kMaxWatchWaitMs means kMaxWatchWaitMs
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct JobEventInfo {
  std::string job;     // UUID
  std::string title;
  int64_t pages = -1;  // -1: unknown
  std::string state;   // the job's state: "held"
  std::string message; // "held for release"
  int64_t time_ms = 0; // when it happened (wall clock)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct WatchEventsResult {
  std::vector<JobEventInfo> events; // oldest first
  uint64_t dropped = 0;             // events lost since the previous answer (a slow watcher)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// ---- accounting -----------------------------------------------------------------------------

struct JobRecord {
  std::string id;          // UUIDv7 of the record (dedup key)
  std::string event;       // printed | deleted
  std::string reason;      // released | expired | user | admin | failed
  std::string job;
  std::string user;
  std::string workstation;
  std::string site;
  std::string printer;
  int64_t submitted_ms = 0;
  int64_t event_ms = 0;
  std::string format;
  uint64_t size = 0;
  int64_t pages = -1;
  int64_t impressions = -1;
  int64_t sheets = -1;
  uint64_t copies = 1;
  int64_t color_impressions = -1;
  bool duplex = false;
  std::string counts_source;
  // Issue 5 (optional, written only when set): the color mode applied, and the station's signed
  // outcome so the accounting server can check the counts came from that release station:
  // signed_outcome is the exact byte string signed (outcome_signed_bytes, outcome.h), signature
  // its ECDSA P-256 signature, signer_key the station's DER public key, signed_by its fingerprint.
  std::string color;
  Bytes signed_outcome;
  Bytes signature;
  Bytes signer_key;
  Fingerprint signed_by;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
inline constexpr size_t kMaxRecordsPerBatch = 500;
struct PostRecordsRequest {
  std::vector<JobRecord> records;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct PostRecordsResult {
  uint64_t stored = 0;
  uint64_t duplicates = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

struct ReportTotalsRequest {
  int64_t from_ms = 0;
  int64_t to_ms = 0; // 0: now
  // Paging (optional): users after this id, at most `limit` (0: as many as the server gives).
  std::string after;
  uint64_t limit = 0;
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UserTotals {
  std::string user;
  uint64_t jobs = 0;
  uint64_t pages = 0;
  uint64_t impressions = 0;
  uint64_t bytes = 0;
};
struct ReportTotalsResult {
  std::vector<UserTotals> rows;
  std::string next; // the `after` of the next page; "" after the last (optional on read)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

// usage-report (issue 6): a report for a person, who proves who they are with a directory
// session token; what they may see follows their roles (docs/protocol.md §5.4).
inline constexpr size_t kMaxReportRows = 5000;
// The most days a report's `last` names (the server's longest window).
inline constexpr uint64_t kMaxReportLastDays = 1100;
inline constexpr size_t kMaxReportColumns = 16;
struct UsageReportRequest {
  std::string session;     // session token, text form (session.h)
  std::string level;       // enterprise | group | department | user
  std::string entity;      // the group, department or user id ("" at enterprise level)
  std::string
      type; // summary | by-printer | by-workstation | by-site | daily | top-users | by-group | by-department
  std::string from, to;    // local days YYYY-MM-DD, inclusive; to "" = from
  uint64_t last = 0;       // without from: today (in zone) and the last - 1 days before it
  std::string zone = "UTC"; // IANA time zone the days run in
  uint64_t top = 10;       // rows of top-users
  void write(MapWriter &w) const;
  void read(MapReader &r);
};
struct UsageReportResult {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  bool no_data = false;
  int64_t from_ms = 0, to_ms = 0; // the window in UTC, [from, to)
  void write(MapWriter &w) const;
  void read(MapReader &r);
};

} // namespace lpm::proto
