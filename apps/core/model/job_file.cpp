#include "model/job_file.hpp"

#include <climits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "model/json_excerpt.hpp"

namespace core {
namespace {

using Result = InputResult<JobSpec>;

// The column (1-based) of the first `[` or `{` nested deeper than `limit`, strings skipped; 0 if
// none. Checked before parsing, so that no deeply nested value reaches code that recurses.
std::size_t too_deep_at(std::string_view line, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return i + 1;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return 0;
}

// An integer field within [lo, hi], or an error sentence.
std::string read_int(const nlohmann::json& value, const char* field, long long lo, long long hi, long long& out) {
  const std::string range = std::to_string(lo) + "-" + std::to_string(hi);
  if (!value.is_number_integer()) return std::string(field) + " must be an integer " + range + ", got " + json_excerpt(value);
  if (value.is_number_unsigned() && value.get<unsigned long long>() > static_cast<unsigned long long>(LLONG_MAX))
    return std::string(field) + " must be " + range + ", got " + std::to_string(value.get<unsigned long long>());
  out = value.get<long long>();
  if (out < lo || out > hi) return std::string(field) + " must be " + range + ", got " + std::to_string(out);
  return {};
}

// nlohmann's parse error without its prefix: "syntax error while parsing value - ...".
std::string parse_reason(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  const auto column = what.find("column ");
  const auto colon = column == std::string::npos ? std::string::npos : what.find(": ", column);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

constexpr int max_nesting = 32;

}  // namespace

Result parse_job_line(std::string_view line, std::string_view source, std::size_t line_number) {
  const std::string where = std::string(source) + ":" + std::to_string(line_number) + ": ";
  auto fail = [&](const std::string& why) { return Result(boost::system::in_place_error, InputError{where + why}); };

  if (const std::size_t column = too_deep_at(line, max_nesting))
    return fail("not valid JSON for a job: nested deeper than " + std::to_string(max_nesting) + " levels at column " +
                std::to_string(column));
  std::set<std::string> keys;
  std::optional<std::string> duplicate;
  const auto check_keys = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && !duplicate &&
        !keys.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(line.begin(), line.end(), check_keys);
  } catch (const nlohmann::json::parse_error& e) {
    return fail("not valid JSON at column " + std::to_string(e.byte) + ": " + parse_reason(e));
  } catch (const nlohmann::json::exception& e) {  // a number too large for any JSON number type
    std::string what = e.what();
    if (const auto end = what.find("] "); end != std::string::npos) what.erase(0, end + 2);
    if (what.size() > 100) what = what.substr(0, 97) + "...";
    return fail("not valid JSON: " + what);
  }
  if (!doc.is_object()) return fail("a job must be a JSON object, got " + json_excerpt(doc));
  if (duplicate) return fail("field '" + *duplicate + "' appears twice");

  JobSpec spec;
  spec.name = "job-" + std::to_string(line_number);
  bool has_delay = false;
  for (const auto& [key, value] : doc.items()) {
    long long n = 0;
    std::string error;
    if (key == "name") {
      if (!value.is_string() || value.get<std::string>().empty()) return fail("name must be a non-empty string");
      spec.name = value.get<std::string>();
    } else if (key == "priority") {
      if (!(error = read_int(value, "priority", JobSpec::min_priority, JobSpec::max_priority, n)).empty())
        return fail(error);
      spec.priority = static_cast<int>(n);
    } else if (key == "delay_ms") {
      if (!(error = read_int(value, "delay_ms", 0, 365LL * 24 * 3600 * 1000, n)).empty()) return fail(error);
      spec.delay = std::chrono::milliseconds(n);
      has_delay = true;
    } else if (key == "cron") {
      if (!value.is_string()) return fail("cron must be a string, got " + json_excerpt(value));
      auto cron = CronExpression::parse(value.get<std::string>());
      if (!cron) return fail(cron.error().message);
      spec.cron = std::move(*cron);
    } else if (key == "runs") {
      if (!(error = read_int(value, "runs", 1, 1'000'000'000, n)).empty()) return fail(error);
      spec.runs = static_cast<unsigned>(n);
    } else if (key == "work_ms") {
      if (!(error = read_int(value, "work_ms", 0, 60000, n)).empty()) return fail(error);
      spec.work = std::chrono::milliseconds(n);
    } else if (key == "fail_attempts") {
      if (!(error = read_int(value, "fail_attempts", 0, 100, n)).empty()) return fail(error);
      spec.fail_attempts = static_cast<unsigned>(n);
    } else {
      return fail("unknown field '" + key + "'");
    }
  }
  if (has_delay && spec.cron) return fail("a job has either delay_ms or cron, not both");
  if (spec.runs && !spec.cron) return fail("runs needs cron: it bounds the firings of a cron job");
  if (spec.runs && !spec.cron->next_after(std::chrono::system_clock::now()))
    return fail("cron '" + spec.cron->text() + "' never fires: a job with runs would never end");
  return spec;
}

InputResult<std::vector<JobSpec>> read_jobs(std::istream& in, std::string_view source) {
  std::vector<JobSpec> jobs;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    auto spec = parse_job_line(line, source, number);
    if (!spec) return InputResult<std::vector<JobSpec>>(boost::system::in_place_error, spec.error());
    jobs.push_back(std::move(*spec));
  }
  return jobs;
}

InputResult<std::vector<JobSpec>> load_jobs(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return InputResult<std::vector<JobSpec>>(boost::system::in_place_error,
                                             InputError{"cannot open job file '" + path + "'"});
  return read_jobs(in, path);
}

}  // namespace core
