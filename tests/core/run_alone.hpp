#pragma once
// Runs one Core service alone, outside any supervisor, for its own tests: the service runs until
// the io_context has nothing left to do, is then asked to stop (a hand-over: its queues stay as
// they are), and the call returns once it has ended.

#include "wiring.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <exception>
#include <memory>
#include <string>

namespace core::test {

/// Returns what the instance ended with: null, or the exception it threw.
inline std::exception_ptr run_until_idle(asio::io_context& ioc, const std::shared_ptr<Shared>& shared,
                                         const std::string& name, Service service) {
  Context ctx(name, 0, shared);
  bool done = false;
  std::exception_ptr error;
  ctx.spawn(ioc.get_executor(), std::move(service), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  ioc.poll();
  ctx.stop(false);
  ioc.restart();
  ioc.run();
  ioc.restart();
  EXPECT_TRUE(done) << name << " did not end once asked to stop";
  return error;
}

}  // namespace core::test
