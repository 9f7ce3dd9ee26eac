// lpm-release discover (issue 8): the agents a release station finds on its LAN with DNS-SD, as
// they come and go. One line per change:
//   found <workstation id> <fingerprint> <host> <port> <address>[,<address>...]
//   updated <workstation id> <fingerprint> <host> <port> <addresses>
//   lost <workstation id>
//   refused <instance> <why>            an advertisement of our type that is not ours
// after a first line "browsing _lpm-release._tcp"; with --json only one JSON object per change.
// Runs --seconds (0: until SIGINT or SIGTERM).
#include <csignal>
#include <cstdio>

#include "commands.h"
#include "lpm/discovery/dnssd.h"
#include "lpm/log.h"

namespace lpm::printer {

namespace {

std::string address_list(const std::vector<std::string> &items) {
  std::string out;
  for (const auto &i : items)
    out += (out.empty() ? "" : ",") + i;
  return out.empty() ? "-" : out;
}

// JSON string contents for text that came from the network (printable ASCII kept, the rest
// escaped): instance names and reasons may hold anything.
std::string json_escaped(const std::string &text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

const char *event_name(discovery::Browser::Event e) {
  switch (e) {
  case discovery::Browser::Event::found: return "found";
  case discovery::Browser::Event::updated: return "updated";
  case discovery::Browser::Event::lost: return "lost";
  case discovery::Browser::Event::refused: return "refused";
  }
  return "?";
}

void print_change(discovery::Browser::Event e, const discovery::LanAgent &a, bool json) {
  using Event = discovery::Browser::Event;
  if (json) {
    std::string addresses;
    for (const auto &x : a.addresses)
      addresses += (addresses.empty() ? "\"" : ",\"") + json_escaped(x) + "\"";
    if (e == Event::refused)
      std::printf("{\"event\":\"refused\",\"instance\":\"%s\",\"why\":\"%s\"}\n",
                  json_escaped(a.instance).c_str(), json_escaped(a.host).c_str());
    else
      std::printf(
          "{\"event\":\"%s\",\"workstation\":\"%s\",\"fingerprint\":\"%s\",\"host\":\"%s\",\"port\":%u,"
          "\"addresses\":[%s],\"instance\":\"%s\"}\n",
          event_name(e), json_escaped(a.advert.workstation_id).c_str(), a.advert.fingerprint.c_str(),
          json_escaped(a.host).c_str(), static_cast<unsigned>(a.port), addresses.c_str(),
          json_escaped(a.instance).c_str());
  } else if (e == Event::refused) {
    std::printf("refused %s %s\n", json_escaped(a.instance).c_str(), json_escaped(a.host).c_str());
  } else if (e == Event::lost) {
    std::printf("lost %s\n", a.advert.workstation_id.c_str());
  } else {
    std::printf("%s %s %s %s %u %s\n", event_name(e), a.advert.workstation_id.c_str(),
                a.advert.fingerprint.c_str(), json_escaped(a.host).c_str(), static_cast<unsigned>(a.port),
                address_list(a.addresses).c_str());
  }
  std::fflush(stdout);
}

} // namespace

int command_discover(const DiscoverArgs &args) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int rc = 0;
  {
    auto browser =
        discovery::Browser::start(&loop, [&](discovery::Browser::Event e, const discovery::LanAgent &a) {
          print_change(e, a, args.json);
        });
    if (!browser.ok()) {
      std::fprintf(stderr, "lpm-release: %s\n", browser.error().to_string().c_str());
      rc = 1;
    } else {
      struct Stop {
        discovery::Browser *browser;
        uv_timer_t timer{};
        uv_signal_t sigint{}, sigterm{};
        void all() {
          browser->stop();
          for (uv_handle_t *h :
               {reinterpret_cast<uv_handle_t *>(&timer), reinterpret_cast<uv_handle_t *>(&sigint),
                reinterpret_cast<uv_handle_t *>(&sigterm)})
            if (!uv_is_closing(h)) uv_close(h, nullptr);
        }
      } stop{browser->get()};
      uv_timer_init(&loop, &stop.timer);
      stop.timer.data = &stop;
      if (args.seconds > 0)
        uv_timer_start(
            &stop.timer, [](uv_timer_t *t) { static_cast<Stop *>(t->data)->all(); },
            static_cast<uint64_t>(args.seconds) * 1000, 0);
      for (uv_signal_t *s : {&stop.sigint, &stop.sigterm}) {
        uv_signal_init(&loop, s);
        s->data = &stop;
      }
      auto on_signal = [](uv_signal_t *s, int) { static_cast<Stop *>(s->data)->all(); };
      uv_signal_start(&stop.sigint, on_signal, SIGINT);
      uv_signal_start(&stop.sigterm, on_signal, SIGTERM);
      if (!args.json) {
        std::printf("browsing %s\n", discovery::kServiceType);
        std::fflush(stdout);
      }
      uv_run(&loop, UV_RUN_DEFAULT);
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    std::fprintf(stderr, "lpm-release: handles were left open on the loop\n");
    return 1;
  }
  return rc;
}

} // namespace lpm::printer
