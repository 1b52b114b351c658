#pragma once
// A structured log line as text: who (a service), what happened (an event) and ordered key/value
// fields, written as one line a person reads and a log sink parses back.
//
//     swarmsync::LogRecord r{"scheduler", "failed", {{"error", "disk on fire"}, {"lost_in_hand", "1"}}};
//     logger->warn("{}", swarmsync::format_log_record(r));
//     //   scheduler: failed error="disk on fire" lost_in_hand=1
//     if (auto back = swarmsync::parse_log_record(line)) write_json(back->service, back->event, back->fields);
//     else write_plain(line);                     // "dispatcher: worker 3 lost" is no record
//
// The line. `SERVICE: EVENT KEY=VALUE KEY=VALUE ...`, one space between parts. SERVICE is 1 to 40
// of [A-Za-z0-9_-], EVENT one or more of [a-z_], each KEY [a-z_][a-z0-9_.]*, the keys of a record
// distinct. A VALUE is written bare, unless it is empty or holds a space, '"', '\', '=' or a
// control character (below 0x20, or 0x7f): then it is quoted, with the escapes \" \\ \n \r \t and
// \xHH (two lower-case hex digits) for the other control characters. Every other byte (UTF-8
// included) is written as it is.
//
// Guarantees. For every valid record r (`is_valid_log_record(r)`): `parse_log_record(
// format_log_record(r)) == r`, and the line holds no control character. `parse_log_record`
// accepts exactly the lines `format_log_record` writes for valid records: whenever it returns a
// record for a text t, `format_log_record(record) == t`; for anything else it returns nullopt. An
// invalid record is still formatted, readable, but does not parse back: a sink shows it as a
// plain message. Pure functions: thread-safe.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace swarmsync {

/// One structured log line: the service it is about, what happened, and fields in order.
struct LogRecord {
  std::string service = {};
  std::string event = {};
  std::vector<std::pair<std::string, std::string>> fields = {};

  friend bool operator==(const LogRecord&, const LogRecord&) = default;
};

namespace log_record_detail {

constexpr std::size_t max_service = 40;

constexpr bool lower(char c) { return c >= 'a' && c <= 'z'; }
constexpr bool upper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool service_char(char c) { return lower(c) || upper(c) || digit(c) || c == '_' || c == '-'; }
constexpr bool event_char(char c) { return lower(c) || c == '_'; }
constexpr bool key_first(char c) { return lower(c) || c == '_'; }
constexpr bool key_char(char c) { return lower(c) || digit(c) || c == '_' || c == '.'; }
constexpr bool control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

inline bool valid_key(std::string_view k) {
  return !k.empty() && key_first(k.front()) && std::all_of(k.begin() + 1, k.end(), key_char);
}

// True when `value` is written in quotes.
inline bool needs_quotes(std::string_view value) {
  return value.empty() || std::any_of(value.begin(), value.end(), [](char c) {
           return c == ' ' || c == '"' || c == '\\' || c == '=' || control(c);
         });
}

inline void append_quoted(std::string& out, std::string_view value) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (control(c)) {
          const auto u = static_cast<unsigned char>(c);
          out += "\\x";
          out += hex[u >> 4];
          out += hex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

inline int hex_digit(char c) {
  if (digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not what format writes
}

// True when the keys of `fields` are all different.
inline bool distinct_keys(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string_view> keys;
  keys.reserve(fields.size());
  for (const auto& f : fields) keys.emplace_back(f.first);
  std::sort(keys.begin(), keys.end());
  return std::adjacent_find(keys.begin(), keys.end()) == keys.end();
}

}  // namespace log_record_detail

/// True when `r` parses back from its line: its service, event and keys as the line's grammar
/// says (header comment), its keys distinct. Any value is valid.
inline bool is_valid_log_record(const LogRecord& r) {
  namespace d = log_record_detail;
  return !r.service.empty() && r.service.size() <= d::max_service &&
         std::all_of(r.service.begin(), r.service.end(), d::service_char) && !r.event.empty() &&
         std::all_of(r.event.begin(), r.event.end(), d::event_char) &&
         std::all_of(r.fields.begin(), r.fields.end(), [](const auto& f) { return d::valid_key(f.first); }) &&
         d::distinct_keys(r.fields);
}

/// The record as one line, `service: event key=value key2="quoted value"`; for a valid record,
/// the only line that parses back to it.
inline std::string format_log_record(const LogRecord& r) {
  std::string out = r.service + ": " + r.event;
  for (const auto& [key, value] : r.fields) {
    out += ' ';
    out += key;
    out += '=';
    if (log_record_detail::needs_quotes(value))
      log_record_detail::append_quoted(out, value);
    else
      out += value;
  }
  return out;
}

/// The record `line` was formatted from, or nullopt when `format_log_record` writes no valid
/// record as `line` (a plain message, a malformed or non-canonical line).
inline std::optional<LogRecord> parse_log_record(std::string_view line) {
  namespace d = log_record_detail;
  LogRecord r;
  std::size_t i = 0;
  while (i < line.size() && i <= d::max_service && d::service_char(line[i])) ++i;
  if (i == 0 || i > d::max_service || line.substr(i, 2) != ": ") return std::nullopt;
  r.service = line.substr(0, i);
  i += 2;
  const std::size_t event_start = i;
  while (i < line.size() && d::event_char(line[i])) ++i;
  if (i == event_start) return std::nullopt;
  r.event = line.substr(event_start, i - event_start);

  while (i < line.size()) {
    if (line[i] != ' ') return std::nullopt;
    const std::size_t key_start = ++i;
    if (i >= line.size() || !d::key_first(line[i])) return std::nullopt;
    while (i < line.size() && d::key_char(line[i])) ++i;
    if (i >= line.size() || line[i] != '=') return std::nullopt;
    std::string key(line.substr(key_start, i - key_start));
    ++i;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) return std::nullopt;  // no closing quote
        const char c = line[i++];
        if (c == '"') break;
        if (d::control(c)) return std::nullopt;  // written escaped
        if (c != '\\') {
          value += c;
          continue;
        }
        if (i >= line.size()) return std::nullopt;
        switch (line[i++]) {
          case '"': value += '"'; break;
          case '\\': value += '\\'; break;
          case 'n': value += '\n'; break;
          case 'r': value += '\r'; break;
          case 't': value += '\t'; break;
          case 'x': {
            if (i + 2 > line.size()) return std::nullopt;
            const int hi = d::hex_digit(line[i]), lo = d::hex_digit(line[i + 1]);
            if (hi < 0 || lo < 0) return std::nullopt;
            const char x = static_cast<char>(hi * 16 + lo);
            // Only the control characters without a letter escape are written as \xHH.
            if (!d::control(x) || x == '\n' || x == '\r' || x == '\t') return std::nullopt;
            value += x;
            i += 2;
            break;
          }
          default: return std::nullopt;
        }
      }
      if (!d::needs_quotes(value)) return std::nullopt;  // written bare
    } else {
      const std::size_t value_start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      value = line.substr(value_start, i - value_start);
      if (d::needs_quotes(value)) return std::nullopt;  // empty, or written quoted
    }
    if (i < line.size() && line[i] != ' ') return std::nullopt;  // text right after a closing quote
    r.fields.emplace_back(std::move(key), std::move(value));
  }
  if (!d::distinct_keys(r.fields)) return std::nullopt;
  return r;
}

/// A valid key made of any name: lower case, a '_' before an upper-case letter that follows a
/// lower-case letter or a digit, '_' for each character outside [a-z0-9_.], and a leading '_'
/// before a digit or for an empty name ("ToScheduler" -> "to_scheduler", "Numbers" -> "numbers").
inline std::string log_key(std::string_view name) {
  namespace d = log_record_detail;
  std::string key;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (d::upper(c)) {
      if (i > 0 && (d::lower(name[i - 1]) || d::digit(name[i - 1]))) key += '_';
      key += static_cast<char>(c - 'A' + 'a');
    } else {
      key += d::key_char(c) ? c : '_';
    }
  }
  if (key.empty() || !d::key_first(key.front())) key.insert(key.begin(), '_');
  return key;
}

}  // namespace swarmsync
