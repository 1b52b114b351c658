#pragma once
// A watchdog for tests that could hang on a lost wake-up: it aborts the program, naming the
// test, if the test has not finished in time, instead of hanging the suite until ctest's timeout.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace swarmsync::test {

#ifdef SWARMSYNC_SANITIZED
constexpr std::chrono::seconds hang_limit{400};
#else
constexpr std::chrono::seconds hang_limit{120};
#endif

// Aborts the program if the test has not finished within `hang_limit` (a lost wake-up would
// otherwise hang the suite until ctest's timeout).
class Watchdog {
 public:
  Watchdog()
      : name_(::testing::UnitTest::GetInstance()->current_test_info()->name()), thread_([this] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, hang_limit, [this] { return done_; })) {
            std::fprintf(stderr, "%s: not finished after %lld s (hang), aborting\n", name_.c_str(),
                         static_cast<long long>(hang_limit.count()));
            std::abort();
          }
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::string name_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace swarmsync::test
