#include "cli/progress_line.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <vector>

namespace core::cli {

namespace {

std::string seconds_shown(double seconds) {
  const double s = std::max(0.0, seconds);
  char buf[48];
  if (s < 1) {
    std::snprintf(buf, sizeof buf, "%.0fms", std::floor(s * 1000));
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", std::floor(s * 10) / 10);
  } else if (s < 3600) {
    const auto t = static_cast<long long>(s);
    std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  } else if (s < 86400) {
    const auto t = static_cast<long long>(s);
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, t % 3600 / 60);
  } else if (s < 1e15) {
    const auto t = static_cast<long long>(s);
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
  } else {
    std::snprintf(buf, sizeof buf, "%.0ed", s / 86400);
  }
  return buf;
}

std::string bar(double fraction, std::size_t width) {
  const auto filled = static_cast<std::size_t>(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(width));
  std::string out(1, '[');
  out.append(filled, '#').append(width - filled, '.').push_back(']');
  return out;
}

}  // namespace

std::string short_duration(std::chrono::nanoseconds d) { return seconds_shown(std::chrono::duration<double>(d).count()); }

std::string progress_line(const Progress& p, std::size_t columns) {
  if (columns < 2) return "";
  const std::size_t room = columns - 1;

  // What there is to say, each in a full and a compact form.
  std::optional<double> fraction;
  std::string percent, counts, counts_short;
  if (p.finite > 0) {
    const std::size_t finished = p.done + p.failed;
    fraction = static_cast<double>(finished) / static_cast<double>(p.finite);
    const std::string of = std::to_string(finished) + "/" + std::to_string(p.finite);
    counts = of + " finished: " + std::to_string(p.done) + " done, " + std::to_string(p.failed) + " failed";
    counts_short = of + ", " + std::to_string(p.failed) + " failed";
  } else if (p.duration && p.duration->count() > 0) {
    fraction = std::chrono::duration<double>(p.elapsed) / *p.duration;
  }
  if (fraction) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%3.0f%%", std::clamp(*fraction, 0.0, 1.0) * 100);
    percent = buf;
  }
  // In seconds as doubles: a duration of any length is shown, none overflows.
  const double elapsed = std::chrono::duration<double>(p.elapsed).count();
  std::string time = seconds_shown(elapsed), time_short = time;
  if (p.duration) {
    const double total = std::chrono::duration<double>(*p.duration).count();
    time += " of " + seconds_shown(total) + ", " + seconds_shown(total - elapsed) + " left";
    time_short += "/" + seconds_shown(total);
  }
  const std::size_t recurring = p.jobs - std::min(p.jobs, p.finite);
  std::string runs;
  if (recurring) runs = std::to_string(recurring) + " recurring: " + std::to_string(p.recurring_runs) + " runs";

  auto join = [](std::initializer_list<const std::string*> parts) {
    std::string out;
    for (const std::string* part : parts) {
      if (part->empty()) continue;
      if (!out.empty()) out.append(" | ");
      out.append(*part);
    }
    return out;
  };
  auto with_percent = [&percent](const std::string& text) {
    if (percent.empty()) return text;
    std::string out = percent;
    if (!text.empty()) out.append(" ").append(text);
    return out;
  };
  const std::string warning = p.no_live_worker ? "NO LIVE WORKER" : "";
  const std::string warning_short = p.no_live_worker ? "NO WORKER" : "";
  const std::string full_counts = with_percent(counts), short_counts = with_percent(counts_short);
  // The candidates, most said first: the recurring runs go first, then the long forms, then the time.
  const std::string candidates[] = {
      join({&warning, &full_counts, &time, &runs}),
      join({&warning, &full_counts, &time}),
      join({&warning, &short_counts, &time_short}),
      join({&warning_short, &short_counts, &time_short}),
      join({&warning_short, &short_counts}),
  };
  // The first candidate that fits, with a bar of 10 to 40 columns if there is room for one.
  constexpr std::size_t min_bar = 10, max_bar = 40;
  for (const auto& text : candidates) {
    if (fraction && text.size() + 1 + min_bar + 2 <= room)
      return bar(*fraction, std::min(max_bar, room - text.size() - 1 - 2)) + " " + text;
    if (text.size() <= room) return text;
  }
  return candidates[std::size(candidates) - 1].substr(0, room);
}

std::size_t terminal_columns(int fd) {
  winsize size{};
  if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace core::cli
