// libFuzzer harness: any bytes as a log line (swarmsync/runtime/log_record.hpp). Parsing never
// crashes; a line that parses gives a valid record that formats back to exactly that line and
// parses again to the same record. And any bytes as values: a record holding them formats to a
// line that parses back to it.

#include <swarmsync/runtime/log_record.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto record = swarmsync::parse_log_record(text)) {
    check(swarmsync::is_valid_log_record(*record));
    const std::string line = swarmsync::format_log_record(*record);
    check(line == text);
    check(swarmsync::parse_log_record(line) == record);
  }
  const swarmsync::LogRecord made{
      "fuzz", "values", {{"whole", std::string(text)}, {"tail", std::string(text.substr(size / 2))}}};
  const std::string line = swarmsync::format_log_record(made);
  for (const char c : line) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);  // one line
  check(swarmsync::parse_log_record(line) == made);
  return 0;
}
