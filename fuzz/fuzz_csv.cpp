// Fuzz target: an import file as csv_parse meets it (users and badges), and every value of it, as
// well as the whole input, as custom_attributes_canonical meets a CUSTOM_ATTRIBUTES value.
// Checks what the parsers promise: error codes, record numbering and lines, the caps, that the
// values of the good records read back unchanged once re-quoted, and that a canonical attribute
// object reads back as itself.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "csv.h"

using namespace lpm;
using namespace lpm::directory;

namespace {

void check_attributes(std::string_view text) {
  auto canonical = custom_attributes_canonical(text);
  if (!canonical.ok()) {
    if (canonical.error().code != Errc::bad_request && canonical.error().code != Errc::too_large)
      std::abort();
    if (canonical.error().message.empty()) std::abort();
    return;
  }
  if (canonical->size() < 2 || canonical->front() != '{' || canonical->back() != '}') std::abort();
  auto again = custom_attributes_canonical(*canonical);
  if (!again.ok() || *again != *canonical) std::abort();
}

// The good records written back with every value quoted: the same values must come out.
void check_requoted(const std::vector<CsvRecord> &records) {
  std::string text;
  size_t good = 0;
  for (const auto &record : records) {
    if (!record.error.empty()) continue;
    ++good;
    for (size_t i = 0; i < record.fields.size(); ++i) {
      if (i > 0) text += ',';
      text += '"';
      for (char c : record.fields[i])
        text += c == '"' ? std::string("\"\"") : std::string(1, c);
      text += '"';
    }
    text += "\r\n";
    if (text.size() > kMaxImportBytes) return;
  }
  auto again = csv_parse(text);
  if (!again.ok() || again->size() != good) std::abort();
  size_t next = 0;
  for (const auto &record : records) {
    if (!record.error.empty()) continue;
    const CsvRecord &copy = (*again)[next++];
    if (!copy.error.empty() || copy.fields != record.fields || copy.number != next) std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view text(reinterpret_cast<const char *>(data), size);
  check_attributes(text);

  auto records = csv_parse(text);
  if (!records.ok()) {
    const Errc code = records.error().code;
    if (code == Errc::too_large ? size <= kMaxImportBytes : code != Errc::bad_request) std::abort();
    if (records.error().message.rfind("line ", 0) != 0 && code == Errc::bad_request) std::abort();
    return 0;
  }
  if (size > kMaxImportBytes) std::abort();
  size_t previous_line = 0, value_bytes = 0;
  for (size_t i = 0; i < records->size(); ++i) {
    const CsvRecord &record = (*records)[i];
    // Numbered 1, 2, 3...; each record starts on a later line than the one before.
    if (record.number != i + 1 || record.line <= previous_line) std::abort();
    previous_line = record.line;
    if (!record.error.empty()) {
      if (!record.fields.empty() || record.error.rfind("line ", 0) != 0) std::abort();
      continue;
    }
    if (record.fields.empty() || record.fields.size() > 64) std::abort();
    for (const auto &value : record.fields) {
      value_bytes += value.size();
      check_attributes(value);
    }
  }
  // Unquoting only ever removes bytes.
  if (value_bytes > size) std::abort();
  check_requoted(*records);
  return 0;
}
