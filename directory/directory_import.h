// CSV imports of users (UA-7 ... UA-24), badges (BD-7 ... BD-13) and Print Management users'
// print groups and quotas (PM-4, AMB-16), with the resolutions of SPEC §4 (AMB-1 ... AMB-17).
// An import is a job with an id: import_start() checks the whole file (size, CSV syntax, header)
// and records it; an ImportRunner then applies it record by record in file order, each record
// atomically together with its audit rows and its log line, so a crash loses nothing and a
// restarted directory resumes at the next record (the file is kept in the database until the
// import is done).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "csv.h"
#include "directory_store.h"
#include "lpm/error.h"
#include "passwords.h"

namespace lpm::directory {

// The one header each kind accepts, exactly (UA-8, BD-7; AMB-1).
inline constexpr std::string_view kUserImportHeader =
    "EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,CUSTOM_ATTRIBUTES,COST_CENTER,"
    "DEPARTMENT";
inline constexpr std::string_view kBadgeImportHeader3 = "BADGE,OPERATION,EMAIL";
inline constexpr std::string_view kBadgeImportHeader4 = "BADGE,OPERATION,EMAIL,TEMPORARY";
// Print Management users' print group and quota (PM-4, AMB-16: the format is ours).
inline constexpr std::string_view kPrintUserImportHeader = "EMAIL,GROUP,QUOTA";
// The literal that clears a name field on UPDATE (UA-14).
inline constexpr std::string_view kDeleteMarker = "[delete]";

enum class ImportKind { users, badges, print_users };
const char *import_kind_name(ImportKind kind); // "users", "badges", "print-users"
// The kind import_kind_name names; bad_request listing the kinds otherwise.
Result<ImportKind> import_kind_parse(std::string_view name);

struct ImportOptions {
  // AMB-2: records with fewer values than the header are errors, instead of taken with their
  // missing trailing values empty and a warning.
  bool strict = false;
  // UA-7, UA-15, AMB-4: CREATE records may leave PASSWORD empty; the users the file creates
  // without a password get a password-change link.
  bool password_links = false;
};

// Checks the file and records the import, state running, nothing applied yet. Whole-file
// problems come back as errors and record nothing: too_large over kMaxImportBytes (UA-10,
// AMB-10); bad_request for invalid UTF-8, an unclosed quote, an empty file or a header other
// than the expected one (quoted in the message).
Result<ImportInfo> import_start(DirectoryStore &store, ImportKind kind, std::string_view file_name,
                                std::string_view content, const ImportOptions &options, std::string_view actor,
                                int64_t now_ms);

class ImportRunner {
public:
  struct Hooks {
    // How imported passwords are hashed (passwords.h); tests pass cheap parameters.
    Argon2Params argon2 = argon2_params_default();
    // Called after the commit of each CREATE record that left PASSWORD empty with
    // password_links on: the user who needs a password-change link.
    std::function<void(const User &)> on_password_link;
  };

  // Loads a running import (its file is parsed again). not_found for an unknown id; conflict
  // when it is already done.
  static Result<std::unique_ptr<ImportRunner>> load(DirectoryStore &store, std::string_view import_id,
                                                    Hooks hooks);
  ~ImportRunner();

  // Applies up to max_records further records. Returns true once every record is applied and the
  // import is marked done. A record that fails is logged and skipped (AMB-6); only storage
  // failures come back as errors (the record stays unprocessed and a later step retries it).
  Result<bool> step(size_t max_records, int64_t now_ms);
  // The import as of the last step.
  const ImportInfo &info() const;

  struct Impl; // directory_import.cpp

private:
  explicit ImportRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace lpm::directory
