#include "import_mail.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>


extern char **environ;

namespace lpm::directory {

std::string actor_email(std::string_view actor) {
  if (actor.substr(0, 5) != "user ") return "";
  size_t space = actor.rfind(' ');
  std::string_view email = actor.substr(space + 1);
  return email.find('@') == std::string_view::npos ? "" : std::string(email);
}

Result<std::string> import_log_text(DirectoryStore &store, std::string_view import_id) {
  auto info = store.import_get(import_id);
  if (!info.ok()) return info.error();
  std::string text = "Import " + info->id + " of " + info->kind + " from \"" + info->file_name + "\": " +
                     std::to_string(info->records) + " records, " + std::to_string(info->applied) + " applied, " +
                     std::to_string(info->failed) + " failed, " + std::to_string(info->warnings) +
                     " with warnings.\n\nRECORD\tLINE\tKEY\tRESULT\tREASON\n";
  int64_t after = 0;
  for (;;) {
    auto rows = store.import_log(import_id, after, 500);
    if (!rows.ok()) return rows.error();
    for (const auto &r : *rows)
      text += std::to_string(r.record) + "\t" + std::to_string(r.line) + "\t" + r.key + "\t" + r.result + "\t" +
              r.reason + "\n";
    if (rows->size() < 500) break;
    after = rows->back().record;
  }
  return text;
}

Status run_mail_command(const std::string &command, const std::string &to, const std::string &subject,
                        const std::string &body, int timeout_ms) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return make_error(Errc::io_error, std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
  std::vector<std::string> env_text;
  for (char **e = environ; *e; e++)
    if (std::strncmp(*e, "LPM_MAIL_", 9) != 0) env_text.emplace_back(*e);
  env_text.push_back("LPM_MAIL_TO=" + to);
  env_text.push_back("LPM_MAIL_SUBJECT=" + subject);
  std::vector<char *> envp;
  for (auto &e : env_text)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string shell = "/bin/sh", dash_c = "-c", cmd = command;
  char *argv[] = {shell.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[0]);
  if (rc != 0) {
    ::close(pipe_fds[1]);
    return make_error(Errc::io_error, std::string("cannot start the mail command: ") + std::strerror(rc));
  }
  // A command that stops reading early must not kill the directory with SIGPIPE (ignored by
  // the daemon); its exit status tells.
  size_t written = 0;
  while (written < body.size()) {
    ssize_t n = ::write(pipe_fds[1], body.data() + written, body.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  ::close(pipe_fds[1]);
  int status = 0;
  for (int waited = 0;; waited += 50) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return make_error(Errc::io_error, std::string("waitpid: ") + std::strerror(errno));
    if (waited >= timeout_ms) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return make_error(Errc::io_error, "the mail command did not finish within " + std::to_string(timeout_ms) +
                                            " ms and was stopped");
    }
    ::usleep(50 * 1000);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status))
    return make_error(Errc::io_error, "the mail command exited with status " + std::to_string(WEXITSTATUS(status)));
  return make_error(Errc::io_error, "the mail command was killed by signal " + std::to_string(WTERMSIG(status)));
}

} // namespace lpm::directory
