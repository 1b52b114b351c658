#pragma once
// The boot diagnostics: for every wired channel, who produces, who consumes, the state of each
// end and its depth, with the wiring errors found; printable as a table, as JSON and as a
// Graphviz DOT graph of services and channels.
//
//     auto report = supervisor.check_wiring();
//     std::cout << report.table();          // or report.json(), report.dot()
//     if (!report.ok()) return 1;

#include "swarmsync/channels/error.hpp"

#include <algorithm>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

namespace swarmsync {

/// What the supervisor found when it checked the wiring before starting anything.
struct BootReport {
  struct Channel {
    std::string name;
    std::vector<std::string> producers;  ///< services that declared they send on it
    std::vector<std::string> consumers;  ///< services that declared they receive from it
    std::string tx;                      ///< "free" or "taken by NAME"
    std::string rx;
    std::size_t depth = 0;               ///< values queued
    std::string where = "in-process";    ///< or where a transport carries its values
  };

  std::vector<std::string> services;
  std::vector<Channel> channels;
  std::vector<std::string> errors;  ///< one sentence each, naming the channel and the services

  /// True when the wiring has no error.
  bool ok() const noexcept { return errors.empty(); }

  /// A fixed-width table, one channel a line, then the errors.
  std::string table() const {
    std::vector<std::vector<std::string>> rows{{"channel", "producers", "consumer", "tx", "rx", "depth", "where"}};
    for (const auto& c : channels)
      rows.push_back({c.name, join(c.producers), join(c.consumers), c.tx, c.rx, std::to_string(c.depth), c.where});
    std::vector<std::size_t> width(rows[0].size(), 0);
    for (const auto& r : rows)
      for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    std::ostringstream out;
    for (const auto& r : rows) {
      for (std::size_t i = 0; i < r.size(); ++i) {
        out << r[i];
        if (i + 1 < r.size()) out << std::string(width[i] - r[i].size() + 2, ' ');
      }
      out << '\n';
    }
    if (errors.empty()) {
      out << "wiring ok: " << channels.size() << " channel(s), " << services.size() << " service(s)\n";
    } else {
      for (const auto& e : errors) out << "error: " << e << '\n';
    }
    return out.str();
  }

  /// The same as a JSON object: {"ok", "services", "channels": [...], "errors": [...]}.
  std::string json() const {
    std::ostringstream out;
    out << "{\"ok\":" << (ok() ? "true" : "false") << ",\"services\":" << json_list(services) << ",\"channels\":[";
    for (std::size_t i = 0; i < channels.size(); ++i) {
      const auto& c = channels[i];
      out << (i ? "," : "") << "{\"name\":" << quote(c.name) << ",\"producers\":" << json_list(c.producers)
          << ",\"consumers\":" << json_list(c.consumers) << ",\"tx\":" << quote(c.tx) << ",\"rx\":" << quote(c.rx)
          << ",\"depth\":" << c.depth << ",\"where\":" << quote(c.where) << "}";
    }
    out << "],\"errors\":" << json_list(errors) << "}";
    return out.str();
  }

  /// A Graphviz digraph: services are boxes, each channel an edge from producer to consumer;
  /// a channel missing an end points from or to a red "(none)" node.
  std::string dot() const {
    std::ostringstream out;
    out << "digraph wiring {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
    for (const auto& s : services) out << "  " << quote(s) << ";\n";
    bool missing = false;
    for (const auto& c : channels) {
      std::vector<std::string> from = c.producers, to = c.consumers;
      if (from.empty() || to.empty()) missing = true;
      if (from.empty()) from.push_back("(none)");
      if (to.empty()) to.push_back("(none)");
      for (const auto& f : from)
        for (const auto& t : to)
          out << "  " << quote(f) << " -> " << quote(t) << " [label=" << quote(c.name) << "];\n";
    }
    if (missing) out << "  \"(none)\" [shape=plaintext, fontcolor=red];\n";
    out << "}\n";
    return out.str();
  }

 private:
  static std::string join(const std::vector<std::string>& v) {
    if (v.empty()) return "-";
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }
  static std::string quote(const std::string& s) {
    std::string q = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') q += '\\';
      if (static_cast<unsigned char>(ch) < 0x20) {
        q += ' ';
        continue;
      }
      q += ch;
    }
    return q + "\"";
  }
  static std::string json_list(const std::vector<std::string>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) s += ',';
      s += quote(v[i]);
    }
    return s + "]";
  }
};

/// Thrown by `Result::value()` on a failed boot: the report's errors, one a line.
[[noreturn]] inline void throw_exception_from_error(const BootReport& report, const boost::source_location&) {
  std::string what = "swarmsync: wiring errors:";
  for (const auto& e : report.errors) what += "\n  " + e;
  throw Error(what);
}

}  // namespace swarmsync
