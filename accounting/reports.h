// Reports (issue 6, SPEC RP-1..RP-12, AMB-20..22): usage of the enterprise, a print group, a
// department or a user over whole local days in the IANA zone the caller names, read from the
// rollups (rollups.h), as a table the command line prints and exports as CSV.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"
#include "lpm/protocol/session.h"
#include "lpm/timezone.h"
#include "record_store.h"

namespace lpm::accounting {

enum class ReportLevel { enterprise, group, department, user };
// by_group and by_department (enterprise level): one row per print group or department with
// activity in the window, deleted groups included by name (RP-11: what a report may select).
enum class ReportType {
  summary,
  by_printer,
  by_workstation,
  by_site,
  daily,
  top_users,
  by_group,
  by_department
};

Result<ReportLevel> parse_report_level(std::string_view text); // enterprise | group | department | user
Result<ReportType> parse_report_type(std::string_view text);   // summary | by-printer | ... | top-users
const char *report_level_name(ReportLevel level);
const char *report_type_name(ReportType type);

struct CivilDate {
  int year = 1970;
  unsigned month = 1; // 1-12
  unsigned day = 1;   // 1-31
  bool operator==(const CivilDate &) const = default;
};
// "YYYY-MM-DD", a date that exists; bad_request otherwise.
Result<CivilDate> parse_civil_date(std::string_view text);
std::string format_civil_date(const CivilDate &date);
// The date `days` days after 1970-01-01 (negative: before).
CivilDate civil_date_from_days(int64_t days);
// The day after / the number of days from a to b (b - a).
CivilDate next_day(const CivilDate &date);
int64_t days_between(const CivilDate &a, const CivilDate &b);

// The civil date it is at `now_ms` in `zone`.
CivilDate today_in(const TimeZone &zone, int64_t now_ms);
// The first of the last `days` local days (today the last of them), at `now_ms` in `zone`.
CivilDate first_of_last_days(const TimeZone &zone, int64_t now_ms, int64_t days);

// The longest window one report covers.
inline constexpr int64_t kMaxReportDays = 1100;

struct ReportRequest {
  ReportLevel level = ReportLevel::enterprise;
  std::string entity; // the group, department or user id; "" at enterprise level
  ReportType type = ReportType::summary;
  CivilDate from;     // first local day, inclusive
  CivilDate to;       // last local day, inclusive
  size_t top = 10;    // rows of a top-users report
};

struct ReportTable {
  std::string title;                // "usage summary, enterprise, 2026-03-29..2026-03-29 (Europe/Paris)"
  std::vector<std::string> columns; // header
  std::vector<std::vector<std::string>> rows;
  bool no_data = false;             // nothing was received for this selection (RP-9)
  int64_t from_ms = 0, to_ms = 0;   // the window in UTC: [from_ms, to_ms)
};

// The report `request` asks for, days running midnight to midnight in `zone` (23 and 25 hours on
// daylight-saving changes). A top-users row names the user ("deleted user" once anonymised). bad_request (the
// message says what) for an entity missing or given at enterprise level, a window reversed or longer than
// kMaxReportDays, top users at user level, or a zone whose midnight there does not fall on a quarter hour
// (historic local mean times).
Result<ReportTable> run_report(RecordStore &store, const TimeZone &zone, const ReportRequest &request);

// The entity someone typed, as the id the records carry. At user level: a user id, an e-mail or
// a name, whole (any case) or a part of it that only one person's name holds (RP-12); a deleted
// user is not found by name or e-mail (RP-10). At group level: a print group id or name, deleted
// groups included (RP-11). A department is its name, as stamped. Nothing known by that text: the
// text itself (an id of someone the directory never listed here). Several people or groups:
// conflict, naming up to five.
Result<std::string> resolve_report_entity(RecordStore &store, ReportLevel level, const std::string &entity);

// Who may see what (SPEC RP-3, AMB-20), from the roles in a verified session: the enterprise's
// administrators (Enterprise Administrator, Print Release Management Administrator) any level;
// helpdesk staff (the Print Release or Serverless Print Management Helpdesk role) any user's
// user-level reports, read-only; everyone else their own user-level reports only. forbidden,
// saying what the person may see, otherwise.
Status report_access(const proto::Session &session, ReportLevel level, const std::string &entity);

// RFC 4180 CSV in UTF-8 with a byte-order mark (AMB-22), CRLF line ends; a cell starting with
// = + - @, a tab or a carriage return gets a leading apostrophe so spreadsheets do not read it as
// a formula.
std::string report_csv(const ReportTable &table);
// An aligned plain-text table for a terminal, or "no data for this selection".
std::string report_text(const ReportTable &table);

} // namespace lpm::accounting
