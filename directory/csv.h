// The parsing layer of the directory's CSV imports (users and badges, SPEC §2.3 UA-7..UA-24, §2.4
// BD-7..BD-13, AMB-1/2/3/7/10): RFC 4180 records and the CUSTOM_ATTRIBUTES value. What the records
// mean (header check, operations) is the import's business, not this module's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/error.h"

namespace lpm::directory {

// Imports are capped at 1 MB = 1,048,576 bytes, inclusive (UA-10, AMB-10).
inline constexpr size_t kMaxImportBytes = 1048576;

struct CsvRecord {
  size_t number = 0; // 1-based record number in the file (the header is record 1)
  size_t line = 0;   // 1-based physical line where the record starts
  std::vector<std::string> fields;
  std::string error; // non-empty: this record is malformed (fields unusable); says what and where (column)
};

// RFC 4180 parsing of a whole import file. Whole-file errors (Result error, Errc::too_large or
// Errc::bad_request): more than kMaxImportBytes (checked before anything else); not valid UTF-8
// (say the line); a quoted value never closed (say the line where it opened). A UTF-8 BOM at the
// very start is skipped. CRLF and LF both end a record; the last line ending is optional. A
// completely empty line is not a record (skipped, but the physical line count still advances).
// Quoted values may hold commas, doubled quotes ("") and line breaks; values are never trimmed.
// Per-record errors (CsvRecord::error, parsing continues at the next line): a quote inside an
// unquoted value, text after a closing quote before the separator, a lone CR (not followed by LF)
// outside quotes. Caps: at most 64 fields per record (error for the record beyond that).
// Physical lines end at LF only (a lone CR is an error, not a line end); columns in messages are
// 1-based and count characters (code points), not bytes.
Result<std::vector<CsvRecord>> csv_parse(std::string_view text);

// AMB-7: CUSTOM_ATTRIBUTES is a flat object of string keys and values written with ' or "
// quotes, e.g. {'key1':'value1','key2':'value2'} (the CSV layer has already undone "" doubling).
// Returns canonical JSON: keys sorted, no spaces, e.g. {"key1":"value1","key2":"value2"}.
// Accepted: white space around tokens; keys quoted with ' or "; values quoted with ' or ", or
// unquoted (the trimmed text up to the next , or }; stored as a string, so 12 -> "12");
// inside quotes a backslash escapes the next character (\' \" \\). {} -> {}.
// bad_request with a precise reason (what and at which character offset) for: not starting with
// { / not ending with }, nesting ({ or [ as a value), an empty or duplicate key, a missing ':',
// an unclosed quote, trailing text, a control character, invalid UTF-8. Caps: at most 64 pairs,
// keys at most 64 bytes, values at most 1024 bytes (too_large names which).
// White space is space, tab, CR and LF (a quoted CSV value may wrap, AMB-3); character positions
// in messages are 1-based and count code points. The output always re-parses to itself.
Result<std::string> custom_attributes_canonical(std::string_view text);

} // namespace lpm::directory
