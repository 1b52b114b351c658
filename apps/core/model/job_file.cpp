#include "model/job_file.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

namespace core {
namespace {

using Result = InputResult<JobSpec>;

// An integer field within [lo, hi], or an error sentence.
std::string read_int(const nlohmann::json& value, const char* field, long long lo, long long hi, long long& out) {
  if (!value.is_number_integer())
    return std::string(field) + " must be an integer " + std::to_string(lo) + "-" + std::to_string(hi) + ", got " +
           value.dump();
  out = value.get<long long>();
  if (out < lo || out > hi)
    return std::string(field) + " must be " + std::to_string(lo) + "-" + std::to_string(hi) + ", got " +
           std::to_string(out);
  return {};
}

}  // namespace

Result parse_job_line(std::string_view line, std::string_view source, std::size_t line_number) {
  const std::string where = std::string(source) + ":" + std::to_string(line_number) + ": ";
  auto fail = [&](const std::string& why) { return Result(boost::system::in_place_error, InputError{where + why}); };

  const nlohmann::json doc = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (doc.is_discarded()) return fail("not valid JSON");
  if (!doc.is_object()) return fail("a job must be a JSON object, got " + doc.dump());

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
      if (!value.is_string()) return fail("cron must be a string, got " + value.dump());
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
