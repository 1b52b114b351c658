#pragma once
// A real nats-server with JetStream for a test, as a child process on 127.0.0.1.
//
//     swarmsync::test::NatsServer server;
//     if (auto why = server.start()) GTEST_SKIP() << *why;   // no nats-server binary
//     connect(server.url());
//     server.kill9();  server.restart();                     // same port, same store
//
// `start` picks a free port, makes a fresh temporary directory (the store is `<dir>/store`, the
// log `<dir>/server.log`) and runs `nats-server -js -a 127.0.0.1 -p <port> -sd <dir>/store`, then
// waits until the port accepts connections (a hang guard of 10 s). `kill9` kills it with SIGKILL
// and reaps it; `restart` starts it again on the same port and store. `pause`/`resume` stop and
// continue it (SIGSTOP/SIGCONT): its socket stays open, nothing is answered. The destructor kills
// it and removes the directory. The child is also killed if the test process dies
// (PR_SET_PDEATHSIG). Not thread-safe: one test thread drives it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace swarmsync::test {

class NatsServer {
 public:
  static constexpr const char* binary = "/usr/sbin/nats-server";

  NatsServer() = default;
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;
  ~NatsServer() {
    kill9();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  /// Starts the server; returns why not (the reason to skip), or nothing once it accepts.
  std::optional<std::string> start() {
    if (::access(binary, X_OK) != 0)
      return std::string(binary) + " not found or not executable (apt-get install nats-server)";
    char tmpl[] = "/tmp/swarmsync-nats-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return std::string("cannot make a temporary directory");
    dir_ = tmpl;
    port_ = free_port();
    if (port_ == 0) return std::string("no free port on 127.0.0.1");
    return launch();
  }

  /// Kills the server with SIGKILL and reaps it (no-op if not running).
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  /// Starts it again on the same port and store; returns why not, or nothing once it accepts.
  std::optional<std::string> restart() {
    kill9();
    return launch();
  }

  /// Stops the process (SIGSTOP): connections stay open, nothing is answered.
  void pause() { ::kill(pid_, SIGSTOP); }
  /// Lets it go on (SIGCONT).
  void resume() { ::kill(pid_, SIGCONT); }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
  }

  bool accepts() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  std::optional<std::string> launch() {
    // Everything the child needs is made before fork: after it, only async-signal-safe calls.
    const std::string port = std::to_string(port_);
    const std::string store = dir_ + "/store";
    const std::string log = dir_ + "/server.log";
    std::vector<std::string> args = {binary, "-js", "-a", "127.0.0.1", "-p", port, "-sd", store};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return std::string("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      ::execv(binary, argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);  // hang guard
    while (!accepts()) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "nats-server exited at start (see " + log + ")";
      }
      if (std::chrono::steady_clock::now() > deadline) return "nats-server did not accept on " + port + " within 10 s";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace swarmsync::test
