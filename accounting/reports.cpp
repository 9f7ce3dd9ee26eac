#include "reports.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "lpm/csv_export.h"

namespace lpm::accounting {
namespace {

namespace chr = std::chrono;

chr::sys_days sys_days_of(const CivilDate &d) {
  return chr::sys_days(chr::year_month_day(chr::year(d.year), chr::month(d.month), chr::day(d.day)));
}

CivilDate civil_of(chr::sys_days days) {
  chr::year_month_day ymd(days);
  return CivilDate{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())};
}

// The instant local midnight begins `date`, in ms, on a quarter hour.
Result<int64_t> midnight_ms(const TimeZone &zone, const CivilDate &date) {
  auto s = zone.local_midnight(date.year, date.month, date.day);
  if (!s.ok()) return s.error();
  int64_t ms = *s * 1000;
  if (ms % kQuarterMs != 0)
    return make_error(Errc::bad_request, "the day " + format_civil_date(date) + " in " + zone.name() +
                                             " does not begin on a quarter hour (a historic local mean time); "
                                             "reports cannot cut it from 15-minute rollups");
  return ms;
}

// Usage of (scope, key, item) over [from_ms, to_ms) (quarter-aligned), per item key.
Result<std::map<std::string, Usage>> sum_window(RecordStore &store, char scope, const std::string &key, char item,
                                                int64_t from_ms, int64_t to_ms) {
  return store.quarters_sum(scope, key, item, from_ms / kQuarterMs, to_ms / kQuarterMs);
}

// The same for any level: a user's own scope holds no per-user rows, its total is the user's.
Result<std::map<std::string, Usage>> window_sums(RecordStore &store, char scope, const std::string &key, char item,
                                                 int64_t from_ms, int64_t to_ms) {
  if (scope != 'u' || item != 'u') return sum_window(store, scope, key, item, from_ms, to_ms);
  auto total = sum_window(store, scope, key, '\0', from_ms, to_ms);
  if (!total.ok()) return total.error();
  std::map<std::string, Usage> out;
  auto found = total->find("");
  if (found != total->end()) out[key] = found->second;
  return out;
}

// Usage per 15-minute bucket over [from_ms, to_ms), in bucket order.
Result<std::vector<RollupSum>> quarter_series(RecordStore &store, char scope, const std::string &key, int64_t from_ms,
                                              int64_t to_ms) {
  return store.rollup_sums(Granularity::quarter, scope, key, '\0', from_ms / kQuarterMs, to_ms / kQuarterMs,
                           GroupBy::bucket);
}

const std::vector<std::string> &measure_columns() {
  static const std::vector<std::string> columns = {
      "impressions",         "color impressions", "mono impressions", "duplex impressions",
      "simplex impressions", "pages",             "sheets",           "printed jobs",
      "deleted jobs",        "deleted pages"};
  return columns;
}

void append_measures(std::vector<std::string> &row, const Usage &u) {
  for (uint64_t v : {u.impressions, u.color_impressions, u.mono_impressions, u.duplex_impressions,
                     u.simplex_impressions, u.pages, u.sheets, u.printed_jobs, u.deleted_jobs, u.deleted_pages})
    row.push_back(std::to_string(v));
}

char scope_of(ReportLevel level) {
  switch (level) {
  case ReportLevel::enterprise:
    return 'e';
  case ReportLevel::group:
    return 'g';
  case ReportLevel::department:
    return 'd';
  case ReportLevel::user:
    return 'u';
  }
  return 'e';
}

// Rows of per-item usage, most impressions first (then by key), at most `limit`.
std::vector<std::pair<std::string, Usage>> ranked(std::map<std::string, Usage> items, size_t limit) {
  std::vector<std::pair<std::string, Usage>> rows;
  for (auto &item : items)
    if (!item.second.empty()) rows.push_back(std::move(item));
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto &a, const auto &b) { return a.second.impressions > b.second.impressions; });
  if (rows.size() > limit) rows.resize(limit);
  return rows;
}

} // namespace

Result<ReportLevel> parse_report_level(std::string_view text) {
  for (ReportLevel l : {ReportLevel::enterprise, ReportLevel::group, ReportLevel::department, ReportLevel::user})
    if (text == report_level_name(l)) return l;
  return make_error(Errc::bad_request,
                    "unknown report level \"" + std::string(text) + "\" (enterprise, group, department, user)");
}

Result<ReportType> parse_report_type(std::string_view text) {
  for (ReportType t :
       {ReportType::summary, ReportType::by_printer, ReportType::by_workstation, ReportType::by_site,
        ReportType::daily, ReportType::top_users, ReportType::by_group, ReportType::by_department})
    if (text == report_type_name(t)) return t;
  return make_error(Errc::bad_request,
                    "unknown report type \"" + std::string(text) +
                        "\" (summary, by-printer, by-workstation, by-site, daily, top-users, "
                        "by-group, by-department)");
}

const char *report_level_name(ReportLevel level) {
  switch (level) {
  case ReportLevel::enterprise:
    return "enterprise";
  case ReportLevel::group:
    return "group";
  case ReportLevel::department:
    return "department";
  case ReportLevel::user:
    return "user";
  }
  return "?";
}

const char *report_type_name(ReportType type) {
  switch (type) {
  case ReportType::summary:
    return "summary";
  case ReportType::by_printer:
    return "by-printer";
  case ReportType::by_workstation:
    return "by-workstation";
  case ReportType::by_site:
    return "by-site";
  case ReportType::daily:
    return "daily";
  case ReportType::top_users:
    return "top-users";
  case ReportType::by_group: return "by-group";
  case ReportType::by_department: return "by-department";
  }
  return "?";
}

Result<CivilDate> parse_civil_date(std::string_view text) {
  auto bad = [&] {
    return make_error(Errc::bad_request, "\"" + std::string(text) + "\" is not a date (YYYY-MM-DD)");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  auto digits = [&](size_t at, size_t n, unsigned &out) {
    out = 0;
    for (size_t i = at; i < at + n; i++) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return true;
  };
  unsigned y = 0, m = 0, d = 0;
  if (!digits(0, 4, y) || !digits(5, 2, m) || !digits(8, 2, d) || y == 0) return bad();
  chr::year_month_day ymd(chr::year(static_cast<int>(y)), chr::month(m), chr::day(d));
  if (!ymd.ok()) return make_error(Errc::bad_request, "\"" + std::string(text) + "\": no such day");
  return CivilDate{static_cast<int>(y), m, d};
}

std::string format_civil_date(const CivilDate &d) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", d.year, d.month, d.day);
  return text;
}

CivilDate civil_date_from_days(int64_t days) {
  return civil_of(chr::sys_days(chr::days(days)));
}

CivilDate next_day(const CivilDate &date) {
  return civil_of(sys_days_of(date) + chr::days(1));
}

int64_t days_between(const CivilDate &a, const CivilDate &b) {
  return (sys_days_of(b) - sys_days_of(a)).count();
}

CivilDate today_in(const TimeZone &zone, int64_t now_ms) {
  int64_t now_s = bucket_of(now_ms, 1000);
  return civil_date_from_days(bucket_of(now_s + zone.offset_at(now_s), 86400));
}

CivilDate first_of_last_days(const TimeZone &zone, int64_t now_ms, int64_t days) {
  return civil_date_from_days(days_between(CivilDate{}, today_in(zone, now_ms)) - (days - 1));
}

Result<std::string> resolve_report_entity(RecordStore &store, ReportLevel level, const std::string &entity) {
  if (entity.empty()) return entity;
  constexpr size_t kNamed = 5;
  if (level == ReportLevel::user) {
    auto found = store.find_people(entity, kNamed + 1);
    if (!found.ok()) return found.error();
    if (found->empty()) return entity;
    if (found->size() == 1) return found->front().id;
    std::string names;
    for (size_t i = 0; i < found->size() && i < kNamed; i++)
      names += (i ? ", " : "") + (*found)[i].name + " <" + (*found)[i].email + ">";
    return make_error(Errc::conflict, "\"" + entity + "\" names more than one person (" + names +
                                          (found->size() > kNamed ? ", ..." : "") +
                                          "): give the e-mail or more of the name");
  }
  if (level == ReportLevel::group) {
    auto found = store.find_print_groups(entity);
    if (!found.ok()) return found.error();
    if (found->empty()) return entity;
    if (found->size() == 1) return found->front().id;
    std::string ids;
    for (size_t i = 0; i < found->size() && i < kNamed; i++)
      ids += (i ? ", " : "") + (*found)[i].id;
    return make_error(Errc::conflict, "more than one print group was named \"" + entity + "\" (" + ids +
                                          "): give the group's id");
  }
  return entity;
}

Result<ReportTable> run_report(RecordStore &store, const TimeZone &zone, const ReportRequest &req) {
  if (req.level == ReportLevel::enterprise && !req.entity.empty())
    return make_error(Errc::bad_request, "an enterprise report names no group, department or user");
  if (req.level != ReportLevel::enterprise && req.entity.empty())
    return make_error(Errc::bad_request, std::string("a ") + report_level_name(req.level) + " report needs its " +
                                             report_level_name(req.level));
  if (req.type == ReportType::top_users && req.level == ReportLevel::user)
    return make_error(Errc::bad_request, "top users is a report of the enterprise, a print group or a department");
  if ((req.type == ReportType::by_group || req.type == ReportType::by_department) &&
      req.level != ReportLevel::enterprise)
    return make_error(Errc::bad_request,
                      std::string(report_type_name(req.type)) + " is a report of the enterprise");
  int64_t days = days_between(req.from, req.to) + 1;
  if (days < 1)
    return make_error(Errc::bad_request, "the window ends (" + format_civil_date(req.to) + ") before it begins (" +
                                             format_civil_date(req.from) + ")");
  if (days > kMaxReportDays)
    return make_error(Errc::bad_request, "the window spans " + std::to_string(days) + " days; at most " +
                                             std::to_string(kMaxReportDays));

  ReportTable table;
  auto from = midnight_ms(zone, req.from);
  if (!from.ok()) return from.error();
  auto to = midnight_ms(zone, next_day(req.to));
  if (!to.ok()) return to.error();
  table.from_ms = *from;
  table.to_ms = *to;
  table.title = std::string(report_type_name(req.type)) + ", " + report_level_name(req.level) +
                (req.entity.empty() ? "" : " " + req.entity) + ", " + format_civil_date(req.from) + ".." +
                format_civil_date(req.to) + " (" + zone.name() + ")";
  char scope = scope_of(req.level);
  const auto &measures = measure_columns();

  switch (req.type) {
  case ReportType::summary: {
    auto sums = window_sums(store, scope, req.entity, '\0', *from, *to);
    if (!sums.ok()) return sums.error();
    table.columns = measures;
    auto total = sums->find("");
    if (total == sums->end() || total->second.empty()) break;
    table.rows.emplace_back();
    append_measures(table.rows.back(), total->second);
    break;
  }
  case ReportType::by_printer:
  case ReportType::by_workstation:
  case ReportType::by_site:
  case ReportType::top_users: {
    char item = req.type == ReportType::by_printer       ? 'p'
                : req.type == ReportType::by_workstation ? 'w'
                : req.type == ReportType::by_site        ? 's'
                                                         : 'u';
    const char *what = item == 'p' ? "printer" : item == 'w' ? "workstation" : item == 's' ? "site" : "user";
    auto sums = window_sums(store, scope, req.entity, item, *from, *to);
    if (!sums.ok()) return sums.error();
    size_t limit = req.type == ReportType::top_users ? req.top : sums->size();
    if (item == 'u') table.columns.push_back("rank");
    table.columns.push_back(what);
    if (item == 'u') table.columns.push_back("name");
    table.columns.insert(table.columns.end(), measures.begin(), measures.end());
    size_t rank = 0;
    for (auto &[key, usage] : ranked(std::move(*sums), limit)) {
      auto &row = table.rows.emplace_back();
      if (item == 'u') row.push_back(std::to_string(++rank));
      row.push_back(key);
      if (item == 'u') {
        auto person = store.person(key);
        row.push_back(!person.ok() ? "" : person->deleted_ms != 0 ? "deleted user" : person->name);
      }
      append_measures(row, usage);
    }
    break;
  }
  case ReportType::by_group:
  case ReportType::by_department: {
    // RP-11: every group or department that had activity in the window, deleted groups included.
    char each = req.type == ReportType::by_group ? 'g' : 'd';
    auto keys = store.scope_keys(each);
    if (!keys.ok()) return keys.error();
    if (each == 'g')
      table.columns = {"print group", "name"};
    else
      table.columns = {"department"};
    table.columns.insert(table.columns.end(), measures.begin(), measures.end());
    std::map<std::string, Usage> found;
    for (const auto &key : *keys) {
      auto sums = sum_window(store, each, key, '\0', *from, *to);
      if (!sums.ok()) return sums.error();
      auto total = sums->find("");
      if (total != sums->end()) found[key] = total->second;
    }
    size_t all = found.size();
    for (auto &[key, usage] : ranked(std::move(found), all)) {
      auto &row = table.rows.emplace_back();
      row.push_back(key);
      if (each == 'g') {
        auto named = store.find_print_groups(key);
        row.push_back(named.ok() && !named->empty() ? named->front().name : "");
      }
      append_measures(row, usage);
    }
    break;
  }
  case ReportType::daily: {
    // Each local day's first quarter, then the quarter series assigned to days.
    std::vector<int64_t> starts;
    std::vector<CivilDate> dates;
    CivilDate d = req.from;
    for (int64_t i = 0; i < days; i++, d = next_day(d)) {
      auto start = midnight_ms(zone, d);
      if (!start.ok()) return start.error();
      starts.push_back(*start / kQuarterMs);
      dates.push_back(d);
    }
    auto series = quarter_series(store, scope, req.entity, *from, *to);
    if (!series.ok()) return series.error();
    std::vector<Usage> per_day(dates.size());
    bool any = false;
    for (const auto &q : *series) {
      size_t day = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), q.bucket) - starts.begin()) - 1;
      per_day[day].add(q.usage);
      any = true;
    }
    table.columns.push_back("day");
    table.columns.insert(table.columns.end(), measures.begin(), measures.end());
    if (!any) break;
    for (size_t i = 0; i < dates.size(); i++) {
      auto &row = table.rows.emplace_back();
      row.push_back(format_civil_date(dates[i]));
      append_measures(row, per_day[i]);
    }
    break;
  }
  }
  table.no_data = table.rows.empty();
  return table;
}

Status report_access(const proto::Session &session, ReportLevel level, const std::string &entity) {
  auto holds = [&](const char *role) {
    return std::find(session.roles.begin(), session.roles.end(), role) != session.roles.end();
  };
  namespace names = proto::role_names;
  if (holds(names::enterprise_administrator) || holds(names::prm_administrator)) return {};
  if (level == ReportLevel::user) {
    if (entity == session.user) return {};
    if (holds(names::prm_helpdesk) || holds(names::spm_helpdesk)) return {};
    return make_error(Errc::forbidden, "you may see your own usage only (user level, your own id " + session.user +
                                           ")");
  }
  if (holds(names::prm_helpdesk) || holds(names::spm_helpdesk))
    return make_error(Errc::forbidden, std::string("helpdesk staff see user-level reports only, not the ") +
                                           report_level_name(level) + " level");
  return make_error(Errc::forbidden, std::string("the ") + report_level_name(level) +
                                         " level is for the enterprise's administrators; you may see your "
                                         "own usage (user level)");
}

std::string report_csv(const ReportTable &table) {
  return csv_table(table.columns, table.rows);
}

std::string report_text(const ReportTable &table) {
  std::string out = table.title + "\n";
  if (table.no_data) return out + "no data for this selection\n";
  std::vector<size_t> width(table.columns.size(), 0);
  auto measure = [&](const std::vector<std::string> &cells) {
    for (size_t i = 0; i < cells.size() && i < width.size(); i++) width[i] = std::max(width[i], cells[i].size());
  };
  measure(table.columns);
  for (const auto &row : table.rows) measure(row);
  auto line = [&](const std::vector<std::string> &cells) {
    for (size_t i = 0; i < cells.size() && i < width.size(); i++) {
      if (i) out += "  ";
      out += cells[i];
      if (i + 1 < cells.size()) out.append(width[i] - cells[i].size(), ' ');
    }
    out += "\n";
  };
  line(table.columns);
  for (const auto &row : table.rows) line(row);
  return out;
}

} // namespace lpm::accounting
