// Mailing an import's log to the administrator who started it (UA-24: long imports report their
// outcome by e-mail). The directory sends no mail itself: `lpm-directory serve --mail-command CMD`
// names a command (sendmail, msmtp, a script) that gets the message on its standard input and
// LPM_MAIL_TO, LPM_MAIL_SUBJECT in its environment. Both calls block: run them on the thread pool.
#pragma once

#include <string>
#include <string_view>

#include "directory_store.h"
#include "lpm/error.h"

namespace lpm::directory {

// The e-mail address in a person's audit actor ("user <uuid> <email>"); "" for other actors
// (a command on the directory's host), who get no mail.
std::string actor_email(std::string_view actor);

// The log as the mail's body: a summary line, then one line per record (record, physical line,
// key, result, reason), in file order.
Result<std::string> import_log_text(DirectoryStore &store, std::string_view import_id);

// Runs `/bin/sh -c command` with the body on its standard input; io_error when it cannot start,
// exits non-zero or has not finished within timeout_ms (it is then killed).
Status run_mail_command(const std::string &command, const std::string &to, const std::string &subject,
                        const std::string &body, int timeout_ms);

} // namespace lpm::directory
