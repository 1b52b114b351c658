#include "model/cron.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace core {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;                   // the last value: where `*` and `a/n` end
  int largest_step;          // the number of distinct values the field has
  int cycle_last;            // the last value before the field comes round to `min` again
  const char* const* names;  // names for min, min+1, ... (months, days of week), or null
  int name_count;
};

constexpr const char* month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
// SUN twice, for 0 and 7; a name reads as the first, 0.
constexpr const char* day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"};

constexpr std::array<FieldSpec, 5> fields{{
    {"minute", 0, 59, 60, 59, nullptr, 0},
    {"hour", 0, 23, 24, 23, nullptr, 0},
    {"day of month", 1, 31, 31, 31, nullptr, 0},
    {"month", 1, 12, 12, 12, month_names, 12},
    {"day of week", 0, 7, 7, 6, day_names, 8},
}};

// Larger than every value and step of every field: a longer number reads as this, so that it is
// out of range rather than wrapped.
constexpr int too_large = 1'000'000;

struct Shortcut {
  std::string_view name;
  std::string_view fields;
};

constexpr std::array<Shortcut, 7> shortcuts{{
    {"yearly", "0 0 1 1 *"},
    {"annually", "0 0 1 1 *"},
    {"monthly", "0 0 1 * *"},
    {"weekly", "0 0 * * 0"},
    {"daily", "0 0 * * *"},
    {"midnight", "0 0 * * *"},
    {"hourly", "0 * * * *"},
}};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

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

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) out.push_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

// Decimal digits, read without overflow: a number above `too_large` reads as `too_large`.
// Returns false if `text` is empty or has anything but digits.
bool parse_number(std::string_view text, int& out) {
  if (text.empty()) return false;
  int n = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    n = std::min(too_large, n * 10 + (ch - '0'));
  }
  out = n;
  return true;
}

// One value of `f`, a number or a name; false if it is neither. `is_name` says which it was.
bool parse_value(std::string_view text, const FieldSpec& f, int& out, bool& is_name) {
  is_name = false;
  if (parse_number(text, out)) return true;
  for (int i = 0; i < f.name_count; ++i) {
    if (equal_ignoring_case(text, f.names[i])) {
      out = f.min + i;
      is_name = true;
      return true;
    }
  }
  return false;
}

std::string value_text(int v, const FieldSpec& f, bool as_name) {
  return as_name ? std::string(f.names[v - f.min]) : std::to_string(v);
}

// The list that writes the backwards range `lo-hi` as intended, from `lo` round to `hi`.
std::string wrapped_list(int lo, int hi, const FieldSpec& f, bool as_names, std::string_view step) {
  auto piece = [&](int a, int b) {
    // Appended piece by piece: g++ 12 reports a false -Wrestrict on `"-" + std::string` at -O3.
    std::string s = value_text(a, f, as_names);
    if (b != a) {
      s += '-';
      s += value_text(b, f, as_names);
    }
    if (!step.empty()) {
      s += '/';
      s.append(step);
    }
    return s;
  };
  std::string list;
  if (lo <= f.cycle_last) list = piece(lo, f.cycle_last) + ",";
  return list + piece(f.min, hi);
}

// Sets in `bits` (indexed by value) the values `field` selects; returns an error sentence or an
// empty string.
template <std::size_t N>
std::string parse_field(std::string_view field, const FieldSpec& f, std::bitset<N>& bits) {
  const std::string where = std::string("field ") + f.name + " '" + std::string(field) + "': ";
  const std::string out_of_range = "value out of range " + std::to_string(f.min) + "-" + std::to_string(f.max);
  for (std::string_view part : split(field, ',')) {
    if (part.empty()) return where + "empty list element";
    int step = 1;
    std::string_view step_text;
    const auto slash = part.find('/');
    if (slash != std::string_view::npos) {
      step_text = part.substr(slash + 1);
      if (!parse_number(step_text, step)) return where + "step '" + std::string(step_text) + "' is not a number";
      if (step < 1 || step > f.largest_step) return where + "step out of range 1-" + std::to_string(f.largest_step);
      part = part.substr(0, slash);
      if (part.empty()) return where + "no value before the step";
    }
    int lo = f.min, hi = f.max;
    if (part == "*") {
      // the whole field
    } else if (const auto dash = part.find('-'); dash != std::string_view::npos) {
      bool lo_is_name = false, hi_is_name = false;
      if (!parse_value(part.substr(0, dash), f, lo, lo_is_name) ||
          !parse_value(part.substr(dash + 1), f, hi, hi_is_name))
        return where + "'" + std::string(part) + "' is not a range of values";
      if (lo < f.min || lo > f.max || hi < f.min || hi > f.max) return where + out_of_range;
      if (lo > hi)
        return where + "range " + std::to_string(lo) + "-" + std::to_string(hi) +
               " runs backwards; write it as a list, e.g. " +
               wrapped_list(lo, hi, f, lo_is_name && hi_is_name, step_text);
    } else {
      bool is_name = false;
      if (!parse_value(part, f, lo, is_name)) return where + "'" + std::string(part) + "' is not a value";
      if (lo < f.min || lo > f.max) return where + out_of_range;
      hi = slash != std::string_view::npos ? f.max : lo;  // `a/n` runs from a to the field's end
    }
    // lo, hi and step are all within the field's range, so v stays far from overflow.
    for (int v = lo; v <= hi; v += step) bits.set(static_cast<std::size_t>(v));
  }
  return {};
}

}  // namespace

InputResult<CronExpression> CronExpression::parse(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return InputResult<CronExpression>(boost::system::in_place_error,
                                       InputError{"invalid cron expression '" + std::string(text) + "': " + why});
  };
  std::vector<std::string_view> parts = words(text);
  if (!parts.empty() && parts[0].front() == '@') {
    const std::string_view name = parts[0].substr(1);
    if (parts.size() != 1) return fail("the shortcut " + std::string(parts[0]) + " takes no other fields");
    if (equal_ignoring_case(name, "reboot"))
      return fail("@reboot is not supported: the Core schedules jobs at times, not at start-up");
    const auto it = std::find_if(shortcuts.begin(), shortcuts.end(),
                                 [&](const Shortcut& s) { return equal_ignoring_case(name, s.name); });
    if (it == shortcuts.end())
      return fail("unknown shortcut '" + std::string(parts[0]) +
                  "' (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
    parts = words(it->fields);
  }
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
  // Vixie cron's DOM_STAR and DOW_STAR: the first character of the field's text.
  c.dom_star_ = parts[2].front() == '*';
  c.dow_star_ = parts[4].front() == '*';
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
    const bool day_matches = (dom_star_ || dow_star_) ? (dom && dow) : (dom || dow);
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
