#pragma once
// Jobs from a JSON-lines file: one object per line, blank lines and lines starting with '#'
// ignored.
//
//     {"name": "report", "priority": 7, "work_ms": 20}
//     {"name": "later", "delay_ms": 500}
//     {"name": "tick", "cron": "*/5 * * * *", "fail_attempts": 1}
//     {"name": "thrice", "cron": "0 * * * *", "runs": 3}
//
// Fields: `name` (string), `priority` (0-9, default 5), `delay_ms` (>= 0), `cron` (5 fields; not
// with `delay_ms`), `runs` (with `cron`: fire this many times, 1-1000000000, then the job is
// done; without it a cron job recurs for ever), `work_ms` (0-60000, default 10), `fail_attempts`
// (0-100, default 0). Any other field is an error, so that a typo does not go unnoticed.

#include <boost/system/result.hpp>
#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "model/job.hpp"

namespace core {

/// Parses one line; the error names the line (`source:line: what is wrong`).
InputResult<JobSpec> parse_job_line(std::string_view line, std::string_view source, std::size_t line_number);

/// Reads every job of `in`; stops at the first bad line with its error.
InputResult<std::vector<JobSpec>> read_jobs(std::istream& in, std::string_view source);

/// Reads the file at `path`; a file that cannot be opened is an error naming it.
InputResult<std::vector<JobSpec>> load_jobs(const std::string& path);

}  // namespace core
