// SerialWork: jobs run on the thread pool one at a time, in order; done runs on the loop; stop
// answers the waiting jobs with done(false); a queue destroyed mid-job calls no done.
#include <catch2/catch.hpp>

#include <atomic>
#include <vector>

#include "accounting/support.h"
#include "lpm/protocol/stream.h"
#include "serial_work.h"

using namespace lpm;
using namespace lpm::accounting;
using lpm::accounting::test::TestLoop;

TEST_CASE("serial work: one job at a time, in order, done on the loop, waiting jobs told at stop [issue-6]",
          "[accounting][serial-work][loop]") {
  TestLoop loop;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::vector<int> order;
  std::vector<int> done;
  std::vector<int> refused;
  {
    SerialWork work(&loop.loop);
    for (int i = 0; i < 8; i++)
      work.push(
          [&, i] {
            int now = ++running;
            if (now > most) most = now;
            order.push_back(i); // safe: one job at a time
            --running;
          },
          [&, i](bool ran) { (ran ? done : refused).push_back(i); });
    REQUIRE(proto::run_until(
        &loop.loop, [&] { return done.size() == 8; }, 10000));
    CHECK(most == 1);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(done == order);
    // Stopped with jobs waiting: those are told, none runs, and later pushes are refused at once.
    work.push([&] { order.push_back(100); }, [&](bool ran) { (ran ? done : refused).push_back(100); });
    work.push([&] { order.push_back(101); }, [&](bool ran) { (ran ? done : refused).push_back(101); });
    work.stop();
    work.push([&] { order.push_back(102); }, [&](bool ran) { (ran ? done : refused).push_back(102); });
    REQUIRE(proto::run_until(
        &loop.loop, [&] { return done.size() + refused.size() == 11; }, 10000));
    CHECK(refused == std::vector<int>{101, 102});
    CHECK(done.back() == 100); // the one already running finished and was told
  }
  loop.run();
  loop.finish();
}
