#pragma once
// A child process of the test: swarmsync-core (SWARMSYNC_CORE_BIN) with arguments, its output
// kept, killed with SIGKILL when the test is done with it (and when the test process dies).
//
//     swarmsync::test::Program node({"node", "--nats", url, "--services", "scheduler"});
//     ASSERT_TRUE(node.wait_for_output("running"));
//     node.signal(SIGTERM);
//     EXPECT_EQ(node.wait(), 0);

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace swarmsync::test {

using namespace std::chrono_literals;

// A child process running swarmsync-core with `args`; its standard output is kept (and its
// standard error with it, with `with_errors`).
class Program {
 public:
  explicit Program(std::vector<std::string> args, bool with_errors = false) {
    args.insert(args.begin(), SWARMSYNC_CORE_BIN);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) return;
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(out[1], STDOUT_FILENO);
      if (with_errors) ::dup2(out[1], STDERR_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    ::fcntl(out_, F_SETFL, ::fcntl(out_, F_GETFL) | O_NONBLOCK);  // read while it runs: a full pipe would stall it
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }

  void signal(int sig) { ::kill(pid_, sig); }

  // True while it has not exited.
  bool running() {
    if (pid_ <= 0) return false;
    if (::waitpid(pid_, &exit_status_, WNOHANG) != pid_) return true;
    pid_ = -1;
    exited_ = true;
    return false;
  }

  // Waits for the end; returns its exit status, -1 if killed by a signal. After `guard` it is
  // sent SIGINT (a run then prints its summary, where each job was left), after 10 s more SIGKILL.
  int wait(std::chrono::seconds guard = 120s) {
    if (exited_) return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
    auto deadline = std::chrono::steady_clock::now() + guard;
    int status = 0;
    int sent = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, sent++ == 0 ? SIGINT : SIGKILL);
        deadline = std::chrono::steady_clock::now() + 10s;
      }
      drain();
      std::this_thread::sleep_for(10ms);
    }
    if (sent > 0) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Everything it wrote to standard output (call after `wait`).
  std::string output() {
    drain();
    return text_;
  }

  // Waits until its output holds `text` (true), it exits, or `guard` passes (false).
  bool wait_for_output(const std::string& text, std::chrono::seconds guard = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + guard;
    while (std::chrono::steady_clock::now() < deadline) {
      drain();
      if (text_.find(text) != std::string::npos) return true;
      if (pid_ > 0 && ::waitpid(pid_, &exit_status_, WNOHANG) == pid_) {
        pid_ = -1;
        exited_ = true;
        drain();
        return text_.find(text) != std::string::npos;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

 private:
  void drain() {
    std::array<char, 4096> buf;
    for (ssize_t n; (n = ::read(out_, buf.data(), buf.size())) > 0;) text_.append(buf.data(), static_cast<std::size_t>(n));
  }

  pid_t pid_ = -1;
  int out_ = -1;
  bool exited_ = false;  // reaped by wait_for_output
  int exit_status_ = 0;
  std::string text_;
};

}  // namespace swarmsync::test
