// Issue 5: a badge's last reports wait for the documents still on their way
// (printer/report_pacer.h): at once when nothing moves, after the last transfer ends otherwise,
// in order, and never later than the pacer's longest delay.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "lpm/ids.h"
#include "report_pacer.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;

TEST_CASE("reports go out at once when no document is on its way", "[printer][release][pacer]") {
  test::TestLoop tl;
  auto pacer = std::make_shared<ReportPacer>(&tl.loop, 1000);
  int sent = 0;
  pacer->after_transfers([&] { sent++; });
  CHECK(sent == 1);
  // A transfer that ended leaves nothing waiting either.
  pacer->transfer().reset();
  pacer->after_transfers([&] { sent++; });
  CHECK(sent == 2);
  CHECK(pacer->waiting() == 0);
  pacer.reset();
  tl.run();
  tl.finish();
}

TEST_CASE("reports wait until the last transfer ends, then go out in order", "[printer][release][pacer]") {
  test::TestLoop tl;
  auto pacer = std::make_shared<ReportPacer>(&tl.loop, 60000);
  auto first = pacer->transfer();
  auto second = pacer->transfer();
  CHECK(pacer->transfers() == 2);
  std::vector<std::string> sent;
  pacer->after_transfers([&] { sent.push_back("a"); });
  pacer->after_transfers([&] { sent.push_back("b"); });
  CHECK(sent.empty());
  first.reset();
  CHECK(sent.empty()); // one document still moves
  CHECK(pacer->waiting() == 2);
  second.reset();
  CHECK(sent == std::vector<std::string>{"a", "b"});
  CHECK(pacer->transfers() == 0);
  CHECK(pacer->waiting() == 0);
  // The delay timer was stopped with them: nothing keeps the loop alive.
  pacer.reset();
  tl.run();
  tl.finish();
}

TEST_CASE("a report waits no longer than the pacer's longest delay", "[printer][release][pacer]") {
  test::TestLoop tl;
  auto pacer = std::make_shared<ReportPacer>(&tl.loop, 50);
  auto endless = pacer->transfer(); // a document that takes for ever
  bool sent = false;
  int64_t asked_ms = mono_ms();
  int64_t sent_ms = 0;
  pacer->after_transfers([&] {
    sent = true;
    sent_ms = mono_ms();
  });
  tl.run_until([&] { return sent; });
  CHECK(sent_ms - asked_ms >= 45); // libuv's timers round to the millisecond
  // The transfer's end later finds nothing waiting; a new report waits again.
  int later = 0;
  pacer->after_transfers([&] { later++; });
  CHECK(later == 0);
  endless.reset();
  CHECK(later == 1);
  pacer.reset();
  tl.run();
  tl.finish();
}

TEST_CASE("a transfer may outlive the pacer's other owners", "[printer][release][pacer]") {
  test::TestLoop tl;
  auto pacer = std::make_shared<ReportPacer>(&tl.loop, 60000);
  auto mark = pacer->transfer();
  bool sent = false;
  pacer->after_transfers([&] { sent = true; });
  pacer.reset(); // the fan-out is gone; the mark keeps the pacer
  CHECK_FALSE(sent);
  mark.reset();
  CHECK(sent);
  tl.run();
  tl.finish();
}
