// RFC 4180 records of an import file and the CUSTOM_ATTRIBUTES object (csv.h).
#include "csv.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace lpm::directory {

namespace {

constexpr size_t kMaxFieldsPerRecord = 64;
constexpr size_t kMaxAttributePairs = 64;
constexpr size_t kMaxAttributeKeyBytes = 64;
constexpr size_t kMaxAttributeValueBytes = 1024;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

struct Utf8Fault {
  size_t offset;      // of the first byte of the bad sequence
  const char *reason; // what is wrong with it
};

// The first place where text is not well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing beyond U+10FFFF), or nothing when all of it is.
std::optional<Utf8Fault> utf8_first_fault(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code_point;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1Fu;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0Fu;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07u;
    } else if ((lead & 0xC0) == 0x80) {
      return Utf8Fault{i, "a continuation byte without a lead byte"};
    } else {
      return Utf8Fault{i, "a byte (0xF8..0xFF) that never occurs in UTF-8"};
    }
    for (size_t k = 1; k < length; ++k) {
      if (i + k >= text.size() || (static_cast<uint8_t>(text[i + k]) & 0xC0) != 0x80)
        return Utf8Fault{i, "a truncated multi-byte sequence"};
      code_point = code_point << 6 | (static_cast<uint8_t>(text[i + k]) & 0x3Fu);
    }
    if ((length == 2 && code_point < 0x80) || (length == 3 && code_point < 0x800) ||
        (length == 4 && code_point < 0x10000))
      return Utf8Fault{i, "an overlong encoding"};
    if (code_point >= 0xD800 && code_point <= 0xDFFF) return Utf8Fault{i, "a UTF-16 surrogate"};
    if (code_point > 0x10FFFF) return Utf8Fault{i, "a code point beyond U+10FFFF"};
    i += length;
  }
  return std::nullopt;
}

// 1-based position of text[offset] counted in code points from text[from]; text is valid UTF-8
// there, so every byte that is not a continuation byte starts a character.
size_t character_position(std::string_view text, size_t from, size_t offset) {
  size_t position = 1;
  for (size_t i = from; i < offset && i < text.size(); ++i)
    if ((static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) ++position;
  return position;
}

// Splits an import file into records; one instance per file.
class CsvParser {
public:
  explicit CsvParser(std::string_view body) : text_(body) {}

  Result<std::vector<CsvRecord>> parse() {
    std::vector<CsvRecord> records;
    while (pos_ < text_.size()) {
      // A completely empty line is not a record (editors leave them, notably at the end).
      if (text_[pos_] == '\n') {
        next_line(pos_ + 1);
        continue;
      }
      if (text_.substr(pos_, 2) == "\r\n") {
        next_line(pos_ + 2);
        continue;
      }
      CsvRecord record;
      record.number = records.size() + 1;
      record.line = line_;
      if (auto read = read_record(record); !read.ok()) return read.error();
      if (!record.error.empty()) record.fields.clear();
      records.push_back(std::move(record));
    }
    return records;
  }

private:
  // "line 3, column 7" of text_[offset], which lies on the current line.
  std::string where(size_t offset) const { return where(line_, line_start_, offset); }
  std::string where(size_t line, size_t line_start, size_t offset) const {
    return "line " + std::to_string(line) + ", column " +
           std::to_string(character_position(text_, line_start, offset));
  }

  void next_line(size_t start) {
    pos_ = start;
    ++line_;
    line_start_ = start;
  }

  // Records what is wrong at pos_ and resumes at the next physical line.
  void fail_record(CsvRecord &record, const std::string &what) {
    if (record.error.empty()) record.error = where(pos_) + ": " + what;
    const size_t newline = text_.find('\n', pos_);
    if (newline == std::string_view::npos)
      pos_ = text_.size();
    else
      next_line(newline + 1);
  }

  // A quoted value from its opening quote at pos_ to just past its closing quote. The only
  // whole-file error of the loop: without the closing quote there is no telling where the
  // following records begin.
  Status read_quoted(std::string &value) {
    const size_t open_offset = pos_, open_line = line_, open_line_start = line_start_;
    ++pos_;
    for (;;) {
      const size_t stop = text_.find_first_of("\"\n", pos_);
      if (stop == std::string_view::npos)
        return make_error(Errc::bad_request, where(open_line, open_line_start, open_offset) +
                                                 ": a quoted value opened here is never closed");
      value.append(text_.substr(pos_, stop - pos_));
      if (text_[stop] == '\n') {
        value.push_back('\n');
        next_line(stop + 1);
        continue;
      }
      if (text_.substr(stop, 2) == "\"\"") {
        value.push_back('"');
        pos_ = stop + 2;
        continue;
      }
      pos_ = stop + 1;
      return {};
    }
  }

  // One record from pos_ to just past its line ending (or the end of the text).
  Status read_record(CsvRecord &record) {
    std::string value;
    for (;;) {
      // Past the cap, values are still read (so the record ends where its syntax says) but not kept.
      const bool keep = record.fields.size() < kMaxFieldsPerRecord;
      if (!keep && record.error.empty())
        record.error = where(pos_) + ": more than " + std::to_string(kMaxFieldsPerRecord) +
                       " values in one record (the next one starts here)";
      value.clear();
      const bool quoted = pos_ < text_.size() && text_[pos_] == '"';
      if (quoted) {
        if (auto read = read_quoted(value); !read.ok()) return read;
      } else {
        size_t stop = text_.find_first_of(",\n\r\"", pos_);
        if (stop == std::string_view::npos) stop = text_.size();
        value.append(text_.substr(pos_, stop - pos_));
        pos_ = stop;
        if (pos_ < text_.size() && text_[pos_] == '"') {
          fail_record(record,
                      "a quote inside a value that does not start with one (quote the whole value and "
                      "double the quotes inside it)");
          return {};
        }
      }
      if (keep) record.fields.push_back(value);

      if (pos_ >= text_.size()) return {};
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '\n') {
        next_line(pos_ + 1);
        return {};
      }
      if (text_.substr(pos_, 2) == "\r\n") {
        next_line(pos_ + 2);
        return {};
      }
      if (text_[pos_] == '\r') {
        fail_record(record, "a carriage return (CR) not followed by a line feed (LF)");
        return {};
      }
      // Only a quoted value can stop anywhere else: at its closing quote.
      fail_record(record, "text after the closing quote of a value (a quoted value must end at a separator "
                          "or line end; double the quotes inside it)");
      return {};
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t line_ = 1;
  size_t line_start_ = 0;
};

bool is_attribute_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Reads the CUSTOM_ATTRIBUTES object; one instance per value. Every error names the character.
class AttributeParser {
public:
  explicit AttributeParser(std::string_view text) : text_(text) {}

  Result<std::map<std::string, std::string>> parse() {
    size_t first = 0;
    while (first < text_.size() && is_attribute_space(text_[first]))
      ++first;
    if (first == text_.size() || text_[first] != '{')
      return bad(first, "custom attributes must start with '{'");
    size_t end = text_.size();
    while (end > first && is_attribute_space(text_[end - 1]))
      --end;
    if (text_[end - 1] != '}' || end - 1 == first) return bad(end - 1, "custom attributes must end with '}'");

    std::map<std::string, std::string> pairs;
    pos_ = first + 1;
    skip_space();
    if (peek('}')) {
      ++pos_;
      return finish(std::move(pairs));
    }
    for (;;) {
      skip_space();
      if (pairs.size() == kMaxAttributePairs)
        return make_error(Errc::too_large, "custom attributes: more than " +
                                               std::to_string(kMaxAttributePairs) +
                                               " pairs (the next one at " + at(pos_) + ")");
      if (pos_ >= text_.size()) return bad(pos_, "the object is not closed with '}'");
      if (text_[pos_] != '\'' && text_[pos_] != '"')
        return bad(pos_, pairs.empty() || text_[pos_] != '}'
                             ? "a key must be quoted with ' or \""
                             : "a key is expected after ',' (remove the trailing comma)");
      const size_t key_offset = pos_;
      auto key = read_quoted(kMaxAttributeKeyBytes, "a key");
      if (!key.ok()) return key.error();
      if (key->empty()) return bad(key_offset, "an empty key");
      if (pairs.count(*key) != 0) return bad(key_offset, "duplicate key '" + *key + "'");
      const std::string value_of = "the value of key '" + *key + "'";

      skip_space();
      if (!peek(':')) return bad(pos_, "missing ':' after key '" + *key + "'");
      ++pos_;
      skip_space();
      if (pos_ >= text_.size()) return bad(pos_, "missing " + value_of);
      if (text_[pos_] == '{' || text_[pos_] == '[')
        return bad(pos_, value_of + " is nested ('{' or '['); values must be strings");
      auto value = text_[pos_] == '\'' || text_[pos_] == '"' ? read_quoted(kMaxAttributeValueBytes, value_of)
                                                             : read_unquoted(value_of);
      if (!value.ok()) return value.error();
      pairs.emplace(std::move(*key), std::move(*value));

      skip_space();
      if (peek(',')) {
        ++pos_;
        continue;
      }
      if (peek('}')) {
        ++pos_;
        return finish(std::move(pairs));
      }
      return bad(pos_, "expected ',' or '}' after " + value_of);
    }
  }

private:
  std::string at(size_t offset) const {
    return "character " + std::to_string(character_position(text_, 0, offset));
  }
  Error bad(size_t offset, const std::string &what) const {
    return make_error(Errc::bad_request, "custom attributes: " + what + " at " + at(offset));
  }

  bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  void skip_space() {
    while (pos_ < text_.size() && is_attribute_space(text_[pos_]))
      ++pos_;
  }

  // C0 controls, DEL and the C1 controls (U+0080..U+009F, encoded C2 80..C2 9F).
  bool control_at(size_t offset) const {
    const auto byte = static_cast<uint8_t>(text_[offset]);
    if (byte < 0x20 || byte == 0x7F) return true;
    return byte == 0xC2 && offset + 1 < text_.size() && static_cast<uint8_t>(text_[offset + 1]) >= 0x80 &&
           static_cast<uint8_t>(text_[offset + 1]) <= 0x9F;
  }
  Error control_error(size_t offset, const std::string &what) const {
    return bad(offset, "a control character in " + what);
  }
  Error too_long(size_t offset, size_t limit, const std::string &what) const {
    return make_error(Errc::too_large, "custom attributes: " + what + " is longer than " +
                                           std::to_string(limit) + " bytes (at " + at(offset) + ")");
  }

  Result<std::string> read_quoted(size_t limit, const std::string &what) {
    const char quote = text_[pos_];
    const size_t open_offset = pos_;
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ < text_.size() && text_[pos_] == '\\')
        ++pos_;
      else if (peek(quote))
        break;
      if (pos_ >= text_.size())
        return bad(open_offset, "the quote of " + what + " opened here is never closed");
      if (control_at(pos_)) return control_error(pos_, what);
      if (out.size() == limit) return too_long(pos_, limit, what);
      out.push_back(text_[pos_++]);
    }
    ++pos_;
    return out;
  }

  // Up to the next ',' or '}', trimmed; the leading space is already skipped.
  Result<std::string> read_unquoted(const std::string &what) {
    size_t stop = text_.find_first_of(",}", pos_);
    if (stop == std::string_view::npos) stop = text_.size();
    size_t end = stop;
    while (end > pos_ && is_attribute_space(text_[end - 1]))
      --end;
    if (end == pos_) return bad(pos_, "missing " + what);
    for (size_t i = pos_; i < end; ++i) {
      if (control_at(i)) return control_error(i, what);
      const char c = text_[i];
      if (c == '\'' || c == '"' || c == '{' || c == '[' || c == ']')
        return bad(i, std::string("'") + c + "' inside unquoted " + what + " (quote the value)");
    }
    if (end - pos_ > kMaxAttributeValueBytes)
      return too_long(pos_ + kMaxAttributeValueBytes, kMaxAttributeValueBytes, what);
    std::string out(text_.substr(pos_, end - pos_));
    pos_ = stop;
    return out;
  }

  Result<std::map<std::string, std::string>> finish(std::map<std::string, std::string> pairs) {
    skip_space();
    if (pos_ < text_.size()) return bad(pos_, "text after the closing '}'");
    return pairs;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

} // namespace

Result<std::vector<CsvRecord>> csv_parse(std::string_view text) {
  if (text.size() > kMaxImportBytes)
    return make_error(Errc::too_large, "the file is " + std::to_string(text.size()) +
                                           " bytes; an import may hold at most " +
                                           std::to_string(kMaxImportBytes) + " bytes (1 MB)");
  std::string_view body = text;
  if (body.substr(0, kUtf8Bom.size()) == kUtf8Bom) body.remove_prefix(kUtf8Bom.size());
  if (auto fault = utf8_first_fault(body)) {
    const std::string_view before = body.substr(0, fault->offset);
    const size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
    const size_t last_newline = before.rfind('\n');
    const size_t line_start = last_newline == std::string_view::npos ? 0 : last_newline + 1;
    return make_error(Errc::bad_request,
                      "line " + std::to_string(line) + ", column " +
                          std::to_string(character_position(body, line_start, fault->offset)) +
                          ": not valid UTF-8 (" + fault->reason + ")");
  }
  return CsvParser(body).parse();
}

Result<std::string> custom_attributes_canonical(std::string_view text) {
  if (auto fault = utf8_first_fault(text))
    return make_error(Errc::bad_request, "custom attributes: not valid UTF-8 at character " +
                                             std::to_string(character_position(text, 0, fault->offset)) +
                                             " (" + fault->reason + ")");
  auto pairs = AttributeParser(text).parse();
  if (!pairs.ok()) return pairs.error();
  // nlohmann's object is a std::map, so keys come out sorted; the text is valid UTF-8 and free
  // of control characters, so the only escapes are \" and \\, which read_quoted undoes.
  nlohmann::json object = nlohmann::json::object();
  for (auto &[key, value] : *pairs)
    object[key] = std::move(value);
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace lpm::directory
