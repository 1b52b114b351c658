// libFuzzer harness: any bytes as the text of a job file, read through core::read_jobs from a
// memory stream. A file that reads must give jobs that are whole (a name, a priority in range, a
// cron expression where a schedule says so); one that does not must give an error naming its
// source and line. Nothing may crash, throw or hang.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "model/job_file.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  const auto jobs = core::read_jobs(in, "fuzz.jsonl");
  if (!jobs) {
    check(jobs.error().message.rfind("fuzz.jsonl:", 0) == 0);
    return 0;
  }
  const auto t = std::chrono::sys_days(std::chrono::year(2026) / 12 / 1);
  for (const auto& job : *jobs) {
    check(!job.name.empty());
    check(job.priority >= core::JobSpec::min_priority && job.priority <= core::JobSpec::max_priority);
    check(job.delay.count() >= 0 && job.work.count() >= 0);
    check((job.kind() == core::ScheduleKind::cron) == job.cron.has_value());
    check(!job.runs || job.cron);
    if (job.cron) {
      const auto next = job.cron->next_after(t);
      check(!next || *next > t);
    }
    check(job.finite() == (!job.cron || job.runs.has_value()));
  }
  return 0;
}
