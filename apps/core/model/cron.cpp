#include "model/cron.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace core {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names for min, min+1, ... (months, days of week), or null
};

constexpr const char* month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"};

constexpr std::array<FieldSpec, 5> fields{{
    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},
    {"day of month", 1, 31, nullptr},
    {"month", 1, 12, month_names},
    {"day of week", 0, 7, day_names},
}};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

// Parses one value of `f` (a number or a name); returns false if it is neither.
bool parse_value(std::string_view text, const FieldSpec& f, int& out) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
  }
  if (!f.names) return false;
  for (int i = 0; i <= f.max - f.min; ++i) {
    std::string_view name = f.names[i];
    if (text.size() == name.size() && std::equal(text.begin(), text.end(), name.begin(), [](char a, char b) {
          return std::toupper(static_cast<unsigned char>(a)) == b;
        })) {
      out = f.min + i;
      return true;
    }
  }
  return false;
}

// Sets in `bits` the values `field` selects; returns an error sentence or an empty string.
template <std::size_t N>
std::string parse_field(std::string_view field, const FieldSpec& f, std::bitset<N>& bits) {
  const std::string where = std::string("field ") + f.name + " '" + std::string(field) + "': ";
  for (std::string_view part : split(field, ',')) {
    if (part.empty()) return where + "empty list element";
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      std::string_view step_text = part.substr(slash + 1);
      auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (ec != std::errc() || end != step_text.data() + step_text.size() || step <= 0)
        return where + "step '" + std::string(step_text) + "' is not a positive number";
      part = part.substr(0, slash);
    }
    int lo = f.min, hi = f.max;
    if (part == "*") {
      // the whole range
    } else if (auto dash = part.find('-'); dash != std::string_view::npos) {
      if (!parse_value(part.substr(0, dash), f, lo) || !parse_value(part.substr(dash + 1), f, hi))
        return where + "'" + std::string(part) + "' is not a range of values";
      if (lo > hi) return where + "range " + std::string(part) + " goes backwards";
    } else {
      if (!parse_value(part, f, lo)) return where + "'" + std::string(part) + "' is not a value";
      hi = step > 1 ? f.max : lo;  // "a/n" means from a to the end, every n
    }
    if (lo < f.min || hi > f.max)
      return where + "value out of range " + std::to_string(f.min) + "-" + std::to_string(f.max);
    for (int v = lo; v <= hi; v += step) bits.set(static_cast<std::size_t>(v % static_cast<int>(N)));
  }
  return {};
}

}  // namespace

InputResult<CronExpression> CronExpression::parse(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) parts.push_back(text.substr(i, j - i));
    i = j;
  }
  auto fail = [&](std::string why) {
    return InputResult<CronExpression>(boost::system::in_place_error,
                                       InputError{"invalid cron expression '" + std::string(text) + "': " + why});
  };
  if (parts.size() != 5)
    return fail("expected 5 fields (minute hour day-of-month month day-of-week), got " + std::to_string(parts.size()));

  CronExpression c;
  c.text_ = std::string(text);
  std::bitset<8> dow;  // 0..7 before folding 7 onto Sunday
  std::string error;
  if (!(error = parse_field(parts[0], fields[0], c.minutes_)).empty()) return fail(error);
  if (!(error = parse_field(parts[1], fields[1], c.hours_)).empty()) return fail(error);
  if (!(error = parse_field(parts[2], fields[2], c.days_of_month_)).empty()) return fail(error);
  if (!(error = parse_field(parts[3], fields[3], c.months_)).empty()) return fail(error);
  if (!(error = parse_field(parts[4], fields[4], dow)).empty()) return fail(error);
  for (std::size_t d = 0; d < 7; ++d) c.days_of_week_[d] = dow[d];
  if (dow[7]) c.days_of_week_[0] = true;
  c.dom_restricted_ = parts[2] != "*";
  c.dow_restricted_ = parts[4] != "*";
  return c;
}

std::optional<CronExpression::Clock::time_point> CronExpression::next_after(Clock::time_point t) const {
  using namespace std::chrono;
  auto minute = floor<minutes>(t) + minutes(1);
  auto day = floor<days>(minute);
  const auto limit = day + days(5 * 366);
  for (; day < limit; day += days(1)) {
    const year_month_day ymd(day);
    const weekday wd(day);
    const bool dom = days_of_month_[static_cast<unsigned>(ymd.day())];
    const bool dow = days_of_week_[wd.c_encoding()];
    const bool day_matches = (dom_restricted_ && dow_restricted_) ? (dom || dow) : (dom && dow);
    if (!months_[static_cast<unsigned>(ymd.month())] || !day_matches) continue;
    const auto first = day == floor<days>(minute) ? minute - day : minutes(0);
    for (auto m = first; m < hours(24); m += minutes(1)) {
      const auto h = duration_cast<hours>(m);
      if (!hours_[static_cast<std::size_t>(h.count())]) {
        m = h + hours(1) - minutes(1);  // skip to the next hour
        continue;
      }
      if (minutes_[static_cast<std::size_t>((m - h).count())]) return Clock::time_point(day + m);
    }
  }
  return std::nullopt;
}

}  // namespace core
