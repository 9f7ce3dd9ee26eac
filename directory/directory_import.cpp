// The CSV import engine (directory_import.h). Per record: read and check every value first (no
// transaction is open while a password is hashed: that takes tens of milliseconds), then apply
// the change, its audit row and its log line in one transaction. A record that fails leaves no
// trace but its log line.
#include "directory_import.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "lpm/fault.h"
#include "lpm/ids.h"

namespace lpm::directory {
namespace {

// Column positions of the user import (UA-8).
enum UserColumn : size_t {
  kEmail,
  kOperation,
  kPassword,
  kFirstName,
  kLastName,
  kDisplayName,
  kShortName,
  kGroups,
  kCustomAttributes,
  kCostCenter,
  kDepartment,
  kUserColumnCount
};
// Column positions of the badge import (BD-7).
enum BadgeColumn : size_t { kBadge, kBadgeOperation, kBadgeEmail, kTemporary };
// Column positions of the Print Management import (PM-4, AMB-16).
enum PrintUserColumn : size_t { kPrintEmail, kPrintGroup, kPrintQuota, kPrintUserColumns };

// The user fields the four name columns and the two free columns fill, in column order.
struct ProfileColumn {
  size_t column;
  const char *name;
  UserField field;
  bool clearable; // UA-14: "[delete]" clears it on UPDATE
};
constexpr ProfileColumn kProfileColumns[] = {
    {kFirstName, "FIRST_NAME", UserField::first_name, true},
    {kLastName, "LAST_NAME", UserField::last_name, true},
    {kDisplayName, "DISPLAY_NAME", UserField::display_name, true},
    {kShortName, "SHORTNAME", UserField::short_name, true},
    {kCostCenter, "COST_CENTER", UserField::cost_center, false},
    {kDepartment, "DEPARTMENT", UserField::department, false},
};

std::string_view trim(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && space(text.back()))
    text.remove_suffix(1);
  return text;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char &c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string join(const std::vector<std::string> &parts, std::string_view separator) {
  std::string out;
  for (const auto &p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

std::string header_of(const CsvRecord &record) {
  return join(record.fields, ",");
}

// A record's outcome before it is logged.
struct Outcome {
  std::string key;
  std::string result; // created, updated, deleted, failed
  std::vector<std::string> warnings;
  std::vector<std::string> notes; // said in the log, not counted as warnings
  std::string error;
};

Outcome failed(std::string key, std::string error) {
  Outcome o;
  o.key = std::move(key);
  o.result = "failed";
  o.error = std::move(error);
  return o;
}

nlohmann::json options_to_json(const ImportOptions &options) {
  return {{"strict", options.strict}, {"password_links", options.password_links}};
}

ImportOptions options_from_json(std::string_view text) {
  ImportOptions options;
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_object()) {
    options.strict = json.value("strict", false);
    options.password_links = json.value("password_links", false);
  }
  return options;
}

// The values of a record, padded to the header's width (AMB-2), or why the record is refused.
std::optional<std::string> fit_to_header(std::vector<std::string> &fields, size_t width, bool strict,
                                         std::vector<std::string> &warnings) {
  if (fields.size() > width)
    return "the record has " + std::to_string(fields.size()) + " values; the header has " + std::to_string(width) +
           " (a value holding a comma must be quoted, UA-11)";
  if (fields.size() < width) {
    std::string counts =
        "the record has " + std::to_string(fields.size()) + " values; the header has " + std::to_string(width);
    if (strict) return counts + " (UA-9: every record carries a value for each column, empty ones included)";
    warnings.push_back(counts + ": the missing trailing values are taken as empty (AMB-2)");
    fields.resize(width);
  }
  return std::nullopt;
}

// The headers a kind accepts, each exactly (UA-8, BD-7, AMB-1, AMB-16), and the rule to cite.
std::vector<std::string_view> accepted_headers(ImportKind kind) {
  switch (kind) {
  case ImportKind::users: return {kUserImportHeader};
  case ImportKind::badges: return {kBadgeImportHeader3, kBadgeImportHeader4};
  case ImportKind::print_users: return {kPrintUserImportHeader};
  }
  return {};
}
const char *header_rule(ImportKind kind) {
  return kind == ImportKind::print_users ? "PM-4, AMB-16" : "UA-8, BD-7";
}

// QUOTA of the Print Management import: a whole number of impressions per calendar month
// (AMB-17), digits only; the caller has trimmed it and handled empty.
std::optional<int64_t> quota_parse(std::string_view text) {
  int64_t value = 0;
  if (text.empty() || text.size() > 10) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > kMaxPrintQuota) return std::nullopt;
  return value;
}

std::string quota_text(std::optional<int64_t> quota) {
  return quota ? std::to_string(*quota) : "the group's";
}

} // namespace

const char *import_kind_name(ImportKind kind) {
  switch (kind) {
  case ImportKind::users: return "users";
  case ImportKind::badges: return "badges";
  case ImportKind::print_users: return "print-users";
  }
  return "unknown";
}

Result<ImportKind> import_kind_parse(std::string_view name) {
  for (ImportKind kind : {ImportKind::users, ImportKind::badges, ImportKind::print_users})
    if (name == import_kind_name(kind)) return kind;
  return make_error(Errc::bad_request, "unknown import kind \"" + std::string(name.substr(0, 64)) +
                                           "\": users, badges or print-users");
}

Result<ImportInfo> import_start(DirectoryStore &store, ImportKind kind, std::string_view file_name,
                                std::string_view content, const ImportOptions &options,
                                std::string_view actor, int64_t now_ms) {
  auto records = csv_parse(content);
  if (!records.ok()) return records.error();
  const std::vector<std::string_view> headers = accepted_headers(kind);
  if (records->empty())
    return make_error(Errc::bad_request,
                      "the file is empty: its first line must be the header " + std::string(headers.back()));
  const CsvRecord &header = records->front();
  std::string got = header.error.empty() ? header_of(header) : std::string();
  bool good = std::find(headers.begin(), headers.end(), got) != headers.end();
  if (!header.error.empty() || !good) {
    std::string expected =
        "exactly " + join(std::vector<std::string>(headers.begin(), headers.end()), " or ");
    std::string what = header.error.empty() ? "is \"" + got + "\"" : "cannot be read (" + header.error + ")";
    return make_error(Errc::bad_request, "line " + std::to_string(header.line) + ": the header " + what +
                                             "; it must be " + expected + " on one line, upper case (" +
                                             header_rule(kind) + ")");
  }

  ImportInfo info;
  info.id = uuid_v7();
  info.kind = import_kind_name(kind);
  info.actor = std::string(actor);
  info.file_name = std::string(file_name);
  info.options = options_to_json(options).dump();
  info.records = static_cast<int64_t>(records->size() - 1);
  info.next_record = 2;
  info.state = "running";
  info.started_ms = now_ms;
  auto tx = store.begin();
  Status s = tx.begun();
  if (s.ok()) s = store.import_insert(info, content);
  if (s.ok())
    s = store.audit(now_ms, actor, "import-start",
                    info.kind + " import " + info.id + " of \"" + info.file_name + "\", " +
                        std::to_string(info.records) + " records");
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  return info;
}

// ---------------------------------------------------------------------------------------------

struct ImportRunner::Impl {
  DirectoryStore &store;
  Hooks hooks;
  ImportInfo info;
  ImportOptions options;
  ImportKind kind = ImportKind::users;
  std::vector<CsvRecord> records; // header included
  size_t badge_width = 4;

  Impl(DirectoryStore &s, Hooks h) : store(s), hooks(std::move(h)) {}

  // Applies one record; on success the change, its audit and log rows commit together.
  Status apply(const CsvRecord &record, int64_t now_ms);
  Status log(const CsvRecord &record, const Outcome &outcome);

  // Users: what a record asks, read and checked before any transaction opens.
  struct UserPlan {
    std::string operation;
    std::string email;
    std::vector<std::optional<std::string>> profile; // by kProfileColumns; nullopt = unchanged
    std::string password_hash;                        // empty: none given
    std::vector<std::string> groups;                  // sanitised, deduplicated
    std::optional<std::string> custom_attributes;     // canonical JSON
  };
  Outcome plan_user(const CsvRecord &record, UserPlan &plan);
  Outcome apply_user(const CsvRecord &record, const UserPlan &plan, Outcome o, int64_t now_ms,
                     std::optional<User> &link_for);
  Outcome apply_badge(const CsvRecord &record, int64_t now_ms);
  Outcome apply_print_user(const CsvRecord &record, int64_t now_ms);
};

ImportRunner::ImportRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImportRunner::~ImportRunner() = default;

const ImportInfo &ImportRunner::info() const {
  return impl_->info;
}

Result<std::unique_ptr<ImportRunner>> ImportRunner::load(DirectoryStore &store, std::string_view import_id,
                                                         Hooks hooks) {
  auto info = store.import_get(import_id);
  if (!info.ok()) return info.error();
  if (info->state != "running") return make_error(Errc::conflict, "import " + info->id + " is already done");
  auto content = store.import_content(import_id);
  if (!content.ok()) return content.error();
  auto records = csv_parse(*content);
  // The file passed these checks when the import started; failing now means a damaged row.
  if (!records.ok() || records->empty())
    return make_error(Errc::internal, "import " + info->id + ": its stored file no longer parses");
  auto impl = std::make_unique<Impl>(store, std::move(hooks));
  impl->info = std::move(*info);
  impl->options = options_from_json(impl->info.options);
  auto kind = import_kind_parse(impl->info.kind);
  if (!kind.ok()) return make_error(Errc::internal, "import " + impl->info.id + ": " + kind.error().message);
  impl->kind = *kind;
  impl->records = std::move(*records);
  impl->badge_width = impl->records.front().fields.size();
  return std::unique_ptr<ImportRunner>(new ImportRunner(std::move(impl)));
}

Result<bool> ImportRunner::step(size_t max_records, int64_t now_ms) {
  Impl &m = *impl_;
  for (size_t n = 0; n < max_records; n++) {
    // Records are numbered from 1 (the header) without gaps, so record k sits at index k - 1.
    auto index = static_cast<size_t>(m.info.next_record - 1);
    if (index >= m.records.size()) break;
    Status s = m.apply(m.records[index], now_ms);
    if (!s.ok()) return s.error();
  }
  if (static_cast<size_t>(m.info.next_record - 1) < m.records.size()) return false;
  auto tx = m.store.begin();
  Status s = tx.begun();
  if (s.ok()) s = m.store.import_finish(m.info.id, now_ms);
  if (s.ok())
    s = m.store.audit(now_ms, m.info.actor, "import-done",
                      m.info.kind + " import " + m.info.id + ": " + std::to_string(m.info.applied) + " applied, " +
                          std::to_string(m.info.failed) + " failed, " + std::to_string(m.info.warnings) +
                          " with warnings");
  if (s.ok()) s = tx.commit();
  if (!s.ok()) return s.error();
  m.info.state = "done";
  m.info.finished_ms = now_ms;
  return true;
}

Status ImportRunner::Impl::log(const CsvRecord &record, const Outcome &outcome) {
  ImportLogRow row;
  row.record = static_cast<int64_t>(record.number);
  row.line = static_cast<int64_t>(record.line);
  row.key = outcome.key;
  row.result = outcome.result;
  std::vector<std::string> said = outcome.warnings;
  said.insert(said.end(), outcome.notes.begin(), outcome.notes.end());
  row.reason = outcome.error.empty() ? join(said, "; ") : outcome.error;
  bool warned = outcome.error.empty() && !outcome.warnings.empty();
  Status s = store.import_log_append(info.id, row, warned);
  if (!s.ok()) return s;
  info.next_record = row.record + 1;
  if (outcome.result == "failed")
    info.failed++;
  else
    info.applied++;
  if (warned) info.warnings++;
  return {};
}

Status ImportRunner::Impl::apply(const CsvRecord &record, int64_t now_ms) {
  std::optional<User> link_for;
  UserPlan plan;
  // A user record is read and checked (its password hashed) before the transaction opens.
  Outcome outcome = kind == ImportKind::users ? plan_user(record, plan) : Outcome{};
  if (outcome.result != "failed") {
    auto tx = store.begin();
    if (!tx.begun().ok()) return tx.begun();
    switch (kind) {
    case ImportKind::users: outcome = apply_user(record, plan, std::move(outcome), now_ms, link_for); break;
    case ImportKind::badges: outcome = apply_badge(record, now_ms); break;
    case ImportKind::print_users: outcome = apply_print_user(record, now_ms); break;
    }
    if (outcome.result != "failed") {
      Status s = log(record, outcome);
      if (s.ok()) s = tx.commit();
      if (!s.ok()) {
        // Not stored: the record stays unprocessed so a later step retries it.
        info.next_record = static_cast<int64_t>(record.number);
        return s;
      }
      fault_point("import.after_record");
      if (link_for && hooks.on_password_link) hooks.on_password_link(*link_for);
      return {};
    }
  } // a failed record's partial changes roll back here
  auto tx = store.begin();
  Status s = tx.begun();
  if (s.ok()) s = log(record, outcome);
  if (s.ok()) s = tx.commit();
  if (s.ok()) fault_point("import.after_record");
  return s;
}

// ---------------------------------------------------------------------------------------------
// Users

Outcome ImportRunner::Impl::plan_user(const CsvRecord &record, UserPlan &plan) {
  Outcome o;
  if (!record.error.empty()) return failed("", record.error);
  std::vector<std::string> fields = record.fields;
  std::string raw_email(trim(fields.empty() ? std::string_view() : std::string_view(fields[kEmail])));
  o.key = raw_email;
  if (auto refused = fit_to_header(fields, kUserColumnCount, options.strict, o.warnings))
    return failed(raw_email, *refused);

  if (raw_email.empty()) return failed("", "EMAIL is empty: it is required on every record (UA-12)");
  auto email = email_normalize(raw_email);
  if (!email.ok()) return failed(raw_email, "EMAIL: " + email.error().message);
  plan.email = *email;
  o.key = plan.email;

  plan.operation = upper(trim(fields[kOperation]));
  if (plan.operation.empty())
    return failed(o.key, "OPERATION is empty: it is required on every record (CREATE, UPDATE or DELETE, UA-13)");
  if (plan.operation != "CREATE" && plan.operation != "UPDATE" && plan.operation != "DELETE")
    return failed(o.key, "unknown OPERATION \"" + std::string(trim(fields[kOperation])) +
                             "\": expected CREATE, UPDATE or DELETE (UA-13)");
  if (plan.operation == "DELETE") return o; // the other values do not matter (AMB-4)
  bool create = plan.operation == "CREATE";

  for (const ProfileColumn &column : kProfileColumns) {
    std::string value(trim(fields[column.column]));
    if (value == kDeleteMarker) {
      if (!column.clearable)
        return failed(o.key, std::string(column.name) +
                                 ": [delete] clears only FIRST_NAME, LAST_NAME, DISPLAY_NAME and SHORTNAME "
                                 "(UA-14, AMB-5)");
      // On CREATE there is nothing to clear: the field starts empty (AMB-5).
      plan.profile.emplace_back(std::string());
      continue;
    }
    if (value.empty() && !create) {
      plan.profile.emplace_back(std::nullopt); // empty = unchanged (AMB-5)
      continue;
    }
    plan.profile.emplace_back(value);
  }
  for (size_t column : {size_t(kGroups), size_t(kCustomAttributes), size_t(kPassword)})
    if (trim(fields[column]) == kDeleteMarker)
      return failed(o.key, std::string(column == kGroups ? "GROUPS" : column == kPassword ? "PASSWORD"
                                                                                           : "CUSTOM_ATTRIBUTES") +
                               ": [delete] clears only FIRST_NAME, LAST_NAME, DISPLAY_NAME and SHORTNAME "
                               "(UA-14, AMB-5)");

  // GROUPS (UA-19, UA-20, AMB-3, AMB-8): comma-separated, each name trimmed and sanitised.
  std::string_view groups = fields[kGroups];
  while (!groups.empty()) {
    size_t comma = groups.find(',');
    std::string_view piece = trim(groups.substr(0, comma));
    groups = comma == std::string_view::npos ? std::string_view() : groups.substr(comma + 1);
    if (piece.empty()) continue;
    auto name = group_name_sanitize(piece);
    if (!name.ok()) return failed(o.key, "GROUPS: " + name.error().message);
    if (*name != piece)
      o.warnings.push_back("group \"" + std::string(piece) + "\" is named \"" + *name +
                           "\" (characters ! @ # $ % ^ & * ; + ? / \\ [ ] become _, UA-20)");
    bool seen = std::any_of(plan.groups.begin(), plan.groups.end(), [&](const std::string &g) {
      return upper(g) == upper(*name); // the store matches ASCII case-insensitively too
    });
    if (!seen) plan.groups.push_back(*name);
  }

  std::string_view custom = trim(fields[kCustomAttributes]);
  if (!custom.empty()) {
    auto canonical = custom_attributes_canonical(custom);
    if (!canonical.ok()) return failed(o.key, "CUSTOM_ATTRIBUTES: " + canonical.error().message);
    plan.custom_attributes = *canonical;
  }

  // PASSWORD is never trimmed (AMB-3). Checked and hashed here, before any transaction.
  const std::string &password = fields[kPassword];
  if (password.empty()) {
    if (create && !options.password_links)
      return failed(o.key, "PASSWORD is empty: give one, or import with the option to e-mail a password-change "
                           "link (UA-15, AMB-4)");
    return o;
  }
  auto policy = store.password_policy();
  if (!policy.ok()) return failed(o.key, policy.error().message);
  Status s = password_policy_check(*policy, password);
  if (!s.ok()) return failed(o.key, "PASSWORD: " + s.error().message + " (UA-3)");
  if (!create && policy->history > 0) {
    auto existing = store.user_by_email(plan.email);
    if (existing.ok()) {
      auto previous = store.password_hashes(existing->id, policy->history);
      if (!previous.ok()) return failed(o.key, previous.error().message);
      auto reused = password_reused(password, *previous, policy->history);
      if (!reused.ok()) return failed(o.key, reused.error().message);
      if (*reused)
        return failed(o.key, "PASSWORD: the password is one of the user's last " + std::to_string(policy->history) +
                                 " passwords (UA-3)");
    }
  }
  auto hash = password_hash(password, hooks.argon2);
  if (!hash.ok()) return failed(o.key, "PASSWORD: " + hash.error().message);
  plan.password_hash = std::move(*hash);
  return o;
}

Outcome ImportRunner::Impl::apply_user(const CsvRecord &record, const UserPlan &plan, Outcome o, int64_t now_ms,
                                       std::optional<User> &link_for) {
  std::string where = " (" + info.kind + " import " + info.id + " record " + std::to_string(record.number) + ")";
  auto existing = store.user_by_email(plan.email);
  if (!existing.ok() && existing.error().code != Errc::not_found) return failed(o.key, existing.error().message);

  if (plan.operation == "DELETE") {
    if (!existing.ok()) return failed(o.key, existing.error().message);
    Status s = store.user_delete(existing->id);
    if (s.ok()) s = store.audit(now_ms, info.actor, "user-delete", "user " + existing->id + " " + o.key + where);
    if (!s.ok()) return failed(o.key, s.error().message);
    o.result = "deleted";
    return o;
  }

  User user;
  if (plan.operation == "CREATE") {
    if (existing.ok()) return failed(o.key, "a user with the e-mail address " + o.key + " already exists");
    user.email = plan.email;
  } else {
    if (!existing.ok()) return failed(o.key, existing.error().message);
    user = *existing;
  }
  for (size_t i = 0; i < std::size(kProfileColumns); i++)
    if (plan.profile[i]) user_field(user, kProfileColumns[i].field) = *plan.profile[i];
  if (plan.custom_attributes) user.custom_attributes = *plan.custom_attributes;

  Status s;
  if (plan.operation == "CREATE") {
    auto created = store.user_create(user, now_ms);
    if (!created.ok()) return failed(o.key, created.error().message);
    user = *created;
    s = store.audit(now_ms, info.actor, "user-create", "user " + user.id + " " + user.email + where);
    o.result = "created";
  } else {
    s = store.user_update(user, now_ms);
    if (s.ok()) s = store.audit(now_ms, info.actor, "user-update", "user " + user.id + " " + user.email + where);
    o.result = "updated";
  }
  if (s.ok() && !plan.password_hash.empty()) {
    s = store.password_set(user.id, plan.password_hash, now_ms);
    if (s.ok()) s = store.audit(now_ms, info.actor, "password-set", "user " + user.id + where);
  }
  for (const auto &name : plan.groups) {
    if (!s.ok()) break;
    auto group = store.group_by_name(name);
    if (!group.ok() && group.error().code == Errc::not_found) {
      group = store.group_create(name, now_ms);
      if (group.ok()) {
        s = store.audit(now_ms, info.actor, "group-create", "account group " + group->id + " \"" + name + "\"" + where);
        o.notes.push_back("account group \"" + name + "\" created (UA-19)");
      }
    }
    if (!group.ok()) {
      s = group.error();
      break;
    }
    if (!s.ok()) break;
    auto added = store.group_member_add(group->id, user.id, now_ms);
    if (!added.ok()) {
      s = added.error();
      break;
    }
    if (*added)
      s = store.audit(now_ms, info.actor, "group-member-add",
                      "user " + user.id + " to account group " + group->id + where);
  }
  if (!s.ok()) return failed(o.key, s.error().message);
  if (plan.operation == "CREATE" && plan.password_hash.empty() && options.password_links) {
    link_for = user;
    o.notes.push_back("a password-change link is due (UA-15)");
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Badges

Outcome ImportRunner::Impl::apply_badge(const CsvRecord &record, int64_t now_ms) {
  Outcome o;
  if (!record.error.empty()) return failed("", record.error);
  std::vector<std::string> fields = record.fields;
  o.key = std::string(trim(fields.empty() ? std::string_view() : std::string_view(fields[kBadge])));
  if (auto refused = fit_to_header(fields, badge_width, options.strict, o.warnings)) return failed(o.key, *refused);
  if (fields.size() < 4) fields.resize(4); // the 3-column header: TEMPORARY absent = false (AMB-12)

  if (trim(fields[kBadge]).empty()) return failed("", "BADGE is empty: it is required on every record (BD-8)");
  auto badge = badge_normalize(fields[kBadge], store.badge_rules());
  if (!badge.ok()) return failed(o.key, "BADGE: " + badge.error().message);
  o.key = *badge;

  std::string operation = upper(trim(fields[kBadgeOperation]));
  if (operation.empty())
    return failed(o.key, "OPERATION is empty: it is required on every record (CREATE or DELETE, BD-9)");
  if (operation != "CREATE" && operation != "DELETE")
    return failed(o.key, "unknown OPERATION \"" + std::string(trim(fields[kBadgeOperation])) +
                             "\": badge imports take CREATE or DELETE (BD-9)");

  std::string temporary_text = upper(trim(fields[kTemporary]));
  if (!temporary_text.empty() && temporary_text != "TRUE" && temporary_text != "FALSE")
    return failed(o.key, "TEMPORARY must be true or false, not \"" + std::string(trim(fields[kTemporary])) +
                             "\" (BD-11)");
  bool temporary = temporary_text == "TRUE";

  std::string_view raw_email = trim(fields[kBadgeEmail]);
  std::optional<User> owner;
  if (!raw_email.empty()) {
    auto email = email_normalize(raw_email);
    if (!email.ok()) return failed(o.key, "EMAIL: " + email.error().message);
    auto user = store.user_by_email(*email);
    if (!user.ok()) {
      if (user.error().code != Errc::not_found) return failed(o.key, user.error().message);
      return failed(o.key, operation == "CREATE"
                               ? user.error().message + " (a badge import never creates users, BD-10)"
                               : "the badge does not belong to " + *email + ": " + user.error().message +
                                     " (AMB-11)");
    }
    owner = *user;
  }
  std::string where = " (" + info.kind + " import " + info.id + " record " + std::to_string(record.number) + ")";

  if (operation == "DELETE") {
    auto current = store.badge_find(*badge);
    if (!current.ok()) return failed(o.key, current.error().message);
    if (owner && owner->id != current->user_id)
      return failed(o.key, "the badge does not belong to " + owner->email + " (AMB-11)");
    Status s = store.badge_delete(*badge);
    if (s.ok()) s = store.audit(now_ms, info.actor, "badge-delete", "of user " + current->user_id + where);
    if (!s.ok()) return failed(o.key, s.error().message);
    o.result = "deleted";
    return o;
  }

  if (!owner) return failed(o.key, "EMAIL is empty: CREATE needs the e-mail of the badge's user (BD-10)");
  auto replaced = store.badge_assign(*badge, owner->id, temporary, now_ms);
  if (!replaced.ok()) return failed(o.key, replaced.error().message);
  Status s = store.audit(now_ms, info.actor, "badge-add",
                         std::string(temporary ? "temporary" : "permanent") + " badge of user " + owner->id + where);
  if (!s.ok()) return failed(o.key, s.error().message);
  if (!replaced->empty())
    o.notes.push_back(std::string("replaces the user's previous ") + (temporary ? "temporary" : "permanent") +
                      " badge " + *replaced + " (BD-13)");
  o.result = "created";
  return o;
}

// ---------------------------------------------------------------------------------------------
// Print Management users (PM-4, AMB-16, AMB-17, TS-11, TS-15)

Outcome ImportRunner::Impl::apply_print_user(const CsvRecord &record, int64_t now_ms) {
  Outcome o;
  if (!record.error.empty()) return failed("", record.error);
  std::vector<std::string> fields = record.fields;
  std::string raw_email(trim(fields.empty() ? std::string_view() : std::string_view(fields[kPrintEmail])));
  o.key = raw_email;
  if (auto refused = fit_to_header(fields, kPrintUserColumns, options.strict, o.warnings))
    return failed(raw_email, *refused);

  if (raw_email.empty()) return failed("", "EMAIL is empty: it is required on every record");
  auto email = email_normalize(raw_email);
  if (!email.ok()) return failed(raw_email, "EMAIL: " + email.error().message);
  o.key = *email;

  // QUOTA: empty is the group's quota (the user's own is dropped); else digits only.
  std::string_view quota_field = trim(fields[kPrintQuota]);
  std::optional<int64_t> quota;
  if (!quota_field.empty()) {
    quota = quota_parse(quota_field);
    if (!quota)
      return failed(o.key, "QUOTA \"" + std::string(quota_field.substr(0, 32)) +
                               "\" is not a whole number of impressions per calendar month from 0 to " +
                               std::to_string(kMaxPrintQuota) + " (empty: the print group's quota, AMB-17)");
  }

  auto user = store.user_by_email(*email);
  if (!user.ok())
    return failed(o.key,
                  user.error().message + " (this import never creates users: they come from User Accounts)");
  // GROUP: empty leaves the user's print group as it is; a name must be a live print group,
  // never created here (PM-4); a deleted one is not found (TS-11).
  std::optional<PrintGroup> group;
  std::string_view group_field = trim(fields[kPrintGroup]);
  if (!group_field.empty()) {
    auto name = group_name_sanitize(group_field);
    if (!name.ok()) return failed(o.key, "GROUP: " + name.error().message);
    if (*name != group_field)
      o.warnings.push_back("print group \"" + std::string(group_field) + "\" is looked up as \"" + *name +
                           "\" (characters ! @ # $ % ^ & * ; + ? / \\ [ ] become _, AMB-8)");
    auto found = store.print_group_by_name(*name);
    if (!found.ok()) {
      if (found.error().code != Errc::not_found) return failed(o.key, found.error().message);
      return failed(o.key,
                    "GROUP: print group not found: \"" + *name +
                        "\"; it may have been deleted (`lpm print-groups list --all`); an import never "
                        "creates print groups: create it (`lpm print-groups create`), then import again "
                        "(PM-4, TS-11)");
    }
    group = *found;
  }

  std::string where =
      " (" + info.kind + " import " + info.id + " record " + std::to_string(record.number) + ")";
  auto before = store.pm_user(*user);
  if (!before.ok()) return failed(o.key, before.error().message);
  Status s;
  if (group && group->id != before->print_group_id) {
    auto moved = store.pm_user_group_set(*user, group->id);
    if (!moved.ok()) return failed(o.key, moved.error().message);
    s = store.audit(now_ms, info.actor, "pm-user-group-set",
                    "user " + user->id + " to print group " + group->id + " \"" + group->name + "\"" + where);
    if (!before->print_group_id.empty())
      o.notes.push_back("moved from print group \"" + before->print_group_name +
                        "\" (a user belongs to one print group, AMB-17)");
  }
  if (s.ok() && quota != before->quota) {
    auto set = store.pm_user_quota_set(*user, quota);
    if (!set.ok()) return failed(o.key, set.error().message);
    s = store.audit(now_ms, info.actor, "pm-user-quota-set",
                    "user " + user->id + " quota " + quota_text(quota) + where);
  }
  if (!s.ok()) return failed(o.key, s.error().message);
  o.result = "updated";
  return o;
}

} // namespace lpm::directory
