// SerialWork: jobs run on the thread pool one at a time, in order; done runs on the loop; stop
// answers the waiting jobs with done(false); a queue destroyed mid-job calls no done. IdleWork:
// the same on a thread of its own at the lowest nice value.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <cerrno>

#include <atomic>
#include <chrono>
#include <thread>
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

TEST_CASE("idle work: one job at a time in order at nice 19 and done on the loop and stop tells the "
          "waiting [issue-6]",
          "[accounting][serial-work][loop]") {
  TestLoop loop;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::atomic<int> idle_policy{0};
  std::vector<int> order;
  std::vector<int> done;
  std::vector<int> refused;
  std::thread::id loop_thread = std::this_thread::get_id();
  bool dones_on_loop = true;
  {
    IdleWork work(&loop.loop);
    for (int i = 0; i < 8; i++)
      work.push(
          [&, i] {
            int now = ++running;
            if (now > most) most = now;
            errno = 0;
            if (getpriority(PRIO_PROCESS, 0) == IdleWork::kNice && errno == 0) idle_policy++;
            order.push_back(i); // safe: one job at a time
            --running;
          },
          [&, i](bool ran) {
            if (std::this_thread::get_id() != loop_thread) dones_on_loop = false;
            (ran ? done : refused).push_back(i);
          });
    REQUIRE(proto::run_until(
        &loop.loop, [&] { return done.size() == 8; }, 10000));
    CHECK(most == 1);
    CHECK(idle_policy == 8);
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(done == order);
    CHECK(dones_on_loop);
    // A job that holds the thread while two more wait; stopped then: the waiting are told at
    // once, later pushes too, and the running one ends without a done (IdleWork's difference).
    std::atomic<bool> release{false};
    std::atomic<bool> started{false};
    work.push(
        [&] {
          started = true;
          while (!release)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        },
        [&](bool ran) { (ran ? done : refused).push_back(100); });
    work.push([&] { order.push_back(101); }, [&](bool ran) { (ran ? done : refused).push_back(101); });
    while (!started)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    work.stop();
    work.push([&] { order.push_back(102); }, [&](bool ran) { (ran ? done : refused).push_back(102); });
    CHECK(refused == std::vector<int>{101, 102});
    release = true;
  } // joins the thread
  loop.run();
  CHECK(done.size() == 8);
  CHECK(order.size() == 8);
  loop.finish();
}
