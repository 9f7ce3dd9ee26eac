// `lpm notify`'s desktop side (issue 3, DisplayNotifications): what it does without a session
// bus, and how plain text is made safe for notification servers that read markup. The whole
// notifier against a real agent and a private session bus is tests/integration/notify_flow.sh.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>

#include "desktop_notifications.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::cli;

namespace {

// Sets or unsets an environment variable for the scope, then restores it.
class ScopedEnv {
public:
  ScopedEnv(const char *name, std::optional<std::string> value) : name_(name) {
    if (const char *old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv &) = delete;
  ScopedEnv &operator=(const ScopedEnv &) = delete;

private:
  const char *name_;
  std::optional<std::string> old_;
};

} // namespace

TEST_CASE("without a session bus the notifier says so and what to do", "[cli][notify]") {
  ScopedEnv no_address("DBUS_SESSION_BUS_ADDRESS", std::nullopt);
  ScopedEnv no_runtime("XDG_RUNTIME_DIR", std::nullopt);
  auto bus = DesktopNotifications::open_session();
  REQUIRE_FALSE(bus.ok());
  CHECK(bus.error().code == Errc::unavailable);
  CHECK(bus.error().message == "no session bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set "
                               "(start `lpm notify` inside your desktop session)");
}

TEST_CASE("a session bus address where nothing listens is named in the error", "[cli][notify]") {
  lpm::test::TempDir dir;
  std::string address = "unix:path=" + dir.path + "/no-bus-here";
  ScopedEnv gone("DBUS_SESSION_BUS_ADDRESS", address);
  auto bus = DesktopNotifications::open_session();
  REQUIRE_FALSE(bus.ok());
  CHECK(bus.error().code == Errc::unavailable);
  CHECK(bus.error().message.rfind("no session bus at " + address + ": ", 0) == 0);
}

TEST_CASE("job titles reach the notification as text, never as markup", "[cli][notify]") {
  CHECK(notification_text("Q3 <b>report</b> & notes") == "Q3 &lt;b&gt;report&lt;/b&gt; &amp; notes");
  CHECK(notification_text("plain “title”") == "plain “title”");
  CHECK(notification_text("") == "");
}
