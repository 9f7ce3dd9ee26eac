// The parsing layer of the CSV imports: RFC 4180 records (csv_parse) and the CUSTOM_ATTRIBUTES
// object (custom_attributes_canonical), against the samples of SPEC §3 and hostile input.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "csv.h"

using namespace lpm;
using namespace lpm::directory;
using Fields = std::vector<std::string>;

namespace {

std::vector<CsvRecord> parse_ok(std::string_view text) {
  auto records = csv_parse(text);
  INFO((records.ok() ? std::string() : records.error().to_string()));
  REQUIRE(records.ok());
  return std::move(*records);
}

Error parse_error(std::string_view text) {
  auto records = csv_parse(text);
  REQUIRE_FALSE(records.ok());
  return records.error();
}

// Checks one good record: its number, first line and values.
void check_record(const CsvRecord &record, size_t number, size_t line, const Fields &fields) {
  INFO("record " << number << ": " << record.error);
  CHECK(record.error.empty());
  CHECK(record.number == number);
  CHECK(record.line == line);
  CHECK(record.fields == fields);
}

// Checks one malformed record: where it starts, that its values are dropped, and the message.
void check_bad_record(const CsvRecord &record, size_t number, size_t line, const std::string &says) {
  CHECK(record.number == number);
  CHECK(record.line == line);
  CHECK(record.fields.empty());
  CHECK_THAT(record.error, Catch::Contains(says));
}

std::string canonical_ok(std::string_view text) {
  auto json = custom_attributes_canonical(text);
  INFO((json.ok() ? std::string() : json.error().to_string()));
  REQUIRE(json.ok());
  return *json;
}

// The error code and a piece of the message custom_attributes_canonical gives for text.
void check_attributes_error(std::string_view text, Errc code, const std::string &says) {
  INFO(text);
  auto json = custom_attributes_canonical(text);
  REQUIRE_FALSE(json.ok());
  CHECK(json.error().code == code);
  CHECK_THAT(json.error().message, Catch::Contains(says));
}

const std::string kUserHeader = "EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,"
                                "CUSTOM_ATTRIBUTES,COST_CENTER,"
                                "DEPARTMENT";

} // namespace

TEST_CASE("CSV: the guide's user sample file, its header wrapped after 'CUSTOM_ATTRIBUTES,' (AMB-1, AMB-2)",
          "[csv][AMB-1][AMB-2][UA-9][UA-11][UA-21]") {
  const std::string sample = "EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,"
                             "CUSTOM_ATTRIBUTES,\n"
                             "COST_CENTER,DEPARTMENT\n"
                             "jdoe@company.com,CREATE,,John,Doe,Johnny,jdoe,Group 1,"
                             "\"{'key1':'value1','key2':'value2'}\"\n"
                             "llane@company.com,UPDATE,password2,Lois,Lane,Lois,llane,,\n"
                             "ckent@company.com,DELETE,,,,,,,\n";
  auto records = parse_ok(sample);
  REQUIRE(records.size() == 5);
  // Copied literally the header has 10 values, the last one empty, and its tail is a record of its own.
  check_record(records[0], 1, 1,
               {"EMAIL", "OPERATION", "PASSWORD", "FIRST_NAME", "LAST_NAME", "DISPLAY_NAME", "SHORTNAME",
                "GROUPS", "CUSTOM_ATTRIBUTES", ""});
  check_record(records[1], 2, 2, {"COST_CENTER", "DEPARTMENT"});
  // Every data row has 9 values against the intended 11 columns.
  check_record(records[2], 3, 3,
               {"jdoe@company.com", "CREATE", "", "John", "Doe", "Johnny", "jdoe", "Group 1",
                "{'key1':'value1','key2':'value2'}"});
  check_record(records[3], 4, 4,
               {"llane@company.com", "UPDATE", "password2", "Lois", "Lane", "Lois", "llane", "", ""});
  check_record(records[4], 5, 5, {"ckent@company.com", "DELETE", "", "", "", "", "", "", ""});
  CHECK(canonical_ok(records[2].fields[8]) == R"({"key1":"value1","key2":"value2"})");
}

TEST_CASE("CSV: the rules' header wrapped after GROUPS, with a blank line (AMB-1)", "[csv][AMB-1]") {
  auto records = parse_ok("EMAIL,OPERATION,PASSWORD,FIRST_NAME,LAST_NAME,DISPLAY_NAME,SHORTNAME,GROUPS,\n"
                          "\n"
                          "CUSTOM_ATTRIBUTES,COST_CENTER,DEPARTMENT\n");
  REQUIRE(records.size() == 2);
  check_record(records[0], 1, 1,
               {"EMAIL", "OPERATION", "PASSWORD", "FIRST_NAME", "LAST_NAME", "DISPLAY_NAME", "SHORTNAME",
                "GROUPS", ""});
  check_record(records[1], 2, 3, {"CUSTOM_ATTRIBUTES", "COST_CENTER", "DEPARTMENT"});
}

TEST_CASE("CSV: the intended one-line header has 11 values (UA-8)", "[csv][UA-8]") {
  auto records = parse_ok(kUserHeader + "\n");
  REQUIRE(records.size() == 1);
  CHECK(records[0].fields.size() == 11);
  CHECK(records[0].fields.back() == "DEPARTMENT");
}

TEST_CASE("CSV: a quoted value may hold a line break, and the next record's line is right (AMB-3)",
          "[csv][AMB-3][UA-9][UA-11]") {
  auto records =
      parse_ok("jdupont@entreprise.com,DELETE,,,,,,,\n"
               "llane@entreprise.com,UPDATE,\"pass,word2\",Lois,Lane,\"Lois,Lane\",llane,\"Group1\n"
               ",Group2\",\n"
               "llane@entreprise.com,UPDATE,\"pass,word2\",Lois,Lane,\"Lois,Lane\",llane,"
               "\"Group1,Group2\",\n");
  REQUIRE(records.size() == 3);
  check_record(records[0], 1, 1, {"jdupont@entreprise.com", "DELETE", "", "", "", "", "", "", ""});
  check_record(records[1], 2, 2,
               {"llane@entreprise.com", "UPDATE", "pass,word2", "Lois", "Lane", "Lois,Lane", "llane",
                "Group1\n,Group2", ""});
  check_record(records[2], 3, 4,
               {"llane@entreprise.com", "UPDATE", "pass,word2", "Lois", "Lane", "Lois,Lane", "llane",
                "Group1,Group2", ""});
}

TEST_CASE("CSV: a record after several multi-line values starts on its physical line", "[csv][AMB-3]") {
  auto records = parse_ok("a,\"1\n2\n3\",b\n\"x\r\ny\"\nlast\n");
  REQUIRE(records.size() == 3);
  check_record(records[0], 1, 1, {"a", "1\n2\n3", "b"});
  // A CRLF inside quotes is data: kept as it is, and still one physical line.
  check_record(records[1], 2, 4, {"x\r\ny"});
  check_record(records[2], 3, 6, {"last"});
}

TEST_CASE("CSV: the guide's badge samples (BD-7, BD-8, BD-12)", "[csv][BD-7][BD-8][BD-12]") {
  auto sample = parse_ok("BADGE,OPERATION,EMAIL,TEMPORARY\n"
                         "20171a,CREATE,jdoe@company.com,true\n"
                         "20172b,CREATE,llane@company.com,true\n"
                         "20173c,DELETE,ckent@company.com,false\n");
  REQUIRE(sample.size() == 4);
  check_record(sample[0], 1, 1, {"BADGE", "OPERATION", "EMAIL", "TEMPORARY"});
  check_record(sample[1], 2, 2, {"20171a", "CREATE", "jdoe@company.com", "true"});
  check_record(sample[2], 3, 3, {"20172b", "CREATE", "llane@company.com", "true"});
  check_record(sample[3], 4, 4, {"20173c", "DELETE", "ckent@company.com", "false"});

  auto examples = parse_ok("BADGE,OPERATION,EMAIL\n"
                           "BADGE,OPERATION,EMAIL,TEMPORARY\n"
                           "20171a,DELETE,\n"
                           "\"20171a,2a,3a\"\n");
  REQUIRE(examples.size() == 4);
  check_record(examples[0], 1, 1, {"BADGE", "OPERATION", "EMAIL"});
  check_record(examples[1], 2, 2, {"BADGE", "OPERATION", "EMAIL", "TEMPORARY"});
  // The trailing comma is a third, empty value (BD-12).
  check_record(examples[2], 3, 3, {"20171a", "DELETE", ""});
  // A quoted badge keeps its commas (BD-8).
  check_record(examples[3], 4, 4, {"20171a,2a,3a"});
}

TEST_CASE("CSV: a UTF-8 BOM at the very start is skipped, elsewhere it is data (AMB-10)", "[csv][AMB-10]") {
  auto records = parse_ok("\xEF\xBB\xBF"
                          "BADGE,OPERATION,EMAIL\n1,CREATE,\xEF\xBB\xBFx\n");
  REQUIRE(records.size() == 2);
  check_record(records[0], 1, 1, {"BADGE", "OPERATION", "EMAIL"});
  check_record(records[1], 2, 2, {"1", "CREATE", "\xEF\xBB\xBFx"});
  // Columns count from after the BOM.
  auto bad = parse_ok("\xEF\xBB\xBF"
                      "ab\"c\n");
  REQUIRE(bad.size() == 1);
  check_bad_record(bad[0], 1, 1, "line 1, column 3");
}

TEST_CASE("CSV: CRLF, LF, mixed line endings and a last line without one (AMB-10)", "[csv][AMB-10]") {
  const Fields header{"BADGE", "OPERATION", "EMAIL"};
  const Fields row{"1", "DELETE", ""};
  for (const char *text : {"BADGE,OPERATION,EMAIL\r\n1,DELETE,\r\n", "BADGE,OPERATION,EMAIL\n1,DELETE,\n",
                           "BADGE,OPERATION,EMAIL\r\n1,DELETE,\n", "BADGE,OPERATION,EMAIL\n1,DELETE,\r\n",
                           "BADGE,OPERATION,EMAIL\r\n1,DELETE,", "BADGE,OPERATION,EMAIL\n1,DELETE,"}) {
    INFO(text);
    auto records = parse_ok(text);
    REQUIRE(records.size() == 2);
    check_record(records[0], 1, 1, header);
    check_record(records[1], 2, 2, row);
  }
  // A quoted last value needs no line ending either.
  auto quoted = parse_ok("a,\"b\"");
  REQUIRE(quoted.size() == 1);
  check_record(quoted[0], 1, 1, {"a", "b"});
}

TEST_CASE("CSV: empty lines are not records but still count as lines", "[csv]") {
  auto records = parse_ok("\n\r\nh1,h2\n\n\n\"a\nb\",c\r\n\r\n\nx,y\n\n");
  REQUIRE(records.size() == 3);
  check_record(records[0], 1, 3, {"h1", "h2"});
  check_record(records[1], 2, 6, {"a\nb", "c"});
  check_record(records[2], 3, 10, {"x", "y"});
  // A line holding only a space is a record with one value: values are never trimmed.
  auto space = parse_ok(" \n");
  REQUIRE(space.size() == 1);
  check_record(space[0], 1, 1, {" "});
  // So is an empty quoted value.
  auto empty_quoted = parse_ok("\"\"\n");
  REQUIRE(empty_quoted.size() == 1);
  check_record(empty_quoted[0], 1, 1, {""});
}

TEST_CASE("CSV: an empty file or a lone BOM holds no records", "[csv][AMB-10]") {
  CHECK(parse_ok("").empty());
  CHECK(parse_ok("\xEF\xBB\xBF").empty());
  CHECK(parse_ok("\n\r\n\n").empty());
}

TEST_CASE("CSV: doubled quotes, commas and spaces inside quoted values (UA-11, AMB-7)",
          "[csv][UA-11][UA-21][AMB-7]") {
  auto records = parse_ok("\"{\"\"key1\"\":\"\"value1\"\"}\",\"a \"\"b\"\", c\", \"\"\"\",\"\"\"\"\"\"\n");
  REQUIRE(records.size() == 1);
  // The value " """"" starts with a space, so its quotes are not quoting: that is an error.
  check_bad_record(records[0], 1, 1, "line 1, column 39: a quote inside a value");

  auto good =
      parse_ok("\"{\"\"key1\"\":\"\"value1\"\"}\",\"a \"\"b\"\", c\",\"\"\"\",\"\"\"\"\"\", x ,\"  p w \"\n");
  REQUIRE(good.size() == 1);
  check_record(good[0], 1, 1, {"{\"key1\":\"value1\"}", "a \"b\", c", "\"", "\"\"", " x ", "  p w "});
  CHECK(canonical_ok(good[0].fields[0]) == R"({"key1":"value1"})");
}

TEST_CASE("CSV: imports up to exactly 1,048,576 bytes are read, one byte more is refused (UA-10, AMB-10)",
          "[csv][UA-10][AMB-10][BD-12]") {
  std::string text;
  text.reserve(kMaxImportBytes + 1);
  while (text.size() < kMaxImportBytes)
    text += "x,y\n";
  REQUIRE(text.size() == kMaxImportBytes);
  auto records = parse_ok(text);
  CHECK(records.size() == kMaxImportBytes / 4);
  check_record(records.back(), kMaxImportBytes / 4, kMaxImportBytes / 4, {"x", "y"});

  text += "z";
  auto error = parse_error(text);
  CHECK(error.code == Errc::too_large);
  CHECK_THAT(error.message, Catch::Contains("1048577") && Catch::Contains("1048576"));

  // The size is checked before anything else: even an unreadable file is refused for its size.
  auto garbage = parse_error(std::string(kMaxImportBytes + 1, '\xFF'));
  CHECK(garbage.code == Errc::too_large);
}

TEST_CASE("CSV: a file that is not valid UTF-8 is refused with the line (AMB-10)", "[csv][AMB-10]") {
  struct Case {
    const char *name;
    std::string bytes;
    const char *reason;
  };
  for (const auto &c : std::vector<Case>{{"overlong slash", "\xC0\xAF", "overlong"},
                                         {"overlong 3-byte", "\xE0\x80\xAF", "overlong"},
                                         {"truncated euro sign", "\xE2\x82", "truncated"},
                                         {"truncated at the end of the file", "", "truncated"},
                                         {"surrogate", "\xED\xA0\x80", "surrogate"},
                                         {"beyond U+10FFFF", "\xF4\x90\x80\x80", "beyond U+10FFFF"},
                                         {"lone continuation byte", "\x80", "continuation"},
                                         {"0xFF", "\xFF", "never occurs"},
                                         {"Latin-1 e acute", "\xE9t\xE9", "truncated"}}) {
    INFO(c.name);
    const bool at_end = c.bytes.empty();
    const std::string text = "BADGE,OPERATION,EMAIL\n\"a\nb\",x\xC3\xA9y" +
                             (at_end ? std::string("\xF0\x9F\x98") : c.bytes + ",z\n");
    auto error = parse_error(text);
    CHECK(error.code == Errc::bad_request);
    // Line 3, after "b",xéy: the é counts as one column.
    CHECK_THAT(error.message, Catch::Contains("line 3, column 7") && Catch::Contains("not valid UTF-8") &&
                                  Catch::Contains(c.reason));
  }
  // Well-formed multi-byte characters of every length are data.
  auto records = parse_ok("\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80,\xF4\x8F\xBF\xBF\n");
  REQUIRE(records.size() == 1);
  check_record(records[0], 1, 1, {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"});
}

TEST_CASE("CSV: a quoted value never closed is a file error naming the line it opened on", "[csv]") {
  auto error = parse_error("BADGE,OPERATION,EMAIL\n1,DELETE,\n2,DELETE,\"abc\n3,DELETE,\n");
  CHECK(error.code == Errc::bad_request);
  CHECK_THAT(error.message, Catch::Contains("line 3, column 10") && Catch::Contains("never closed"));
  // A doubled quote at the end is an escaped quote, not the closing one.
  auto doubled = parse_error("\"abc\"\"");
  CHECK_THAT(doubled.message, Catch::Contains("line 1, column 1") && Catch::Contains("never closed"));
}

TEST_CASE("CSV: malformed records carry an error and parsing goes on at the next line", "[csv]") {
  auto records = parse_ok("h1,h2\n"
                          "ab\"c\",d\n"          // a quote inside an unquoted value
                          "\"ab\"c,d\n"          // text after the closing quote
                          "\"ab\" ,d\n"          // a space after the closing quote
                          "a\rb,c\n"             // a lone CR
                          "ok,\"multi\nline\"\n" // still in step
                          "x,\"y\"z"             // bad at the end of the file, no LF
  );
  REQUIRE(records.size() == 7);
  check_record(records[0], 1, 1, {"h1", "h2"});
  check_bad_record(records[1], 2, 2, "line 2, column 3: a quote inside a value that does not start with one");
  check_bad_record(records[2], 3, 3, "line 3, column 5: text after the closing quote");
  check_bad_record(records[3], 4, 4, "line 4, column 5: text after the closing quote");
  check_bad_record(records[4], 5, 5, "line 5, column 2: a carriage return (CR) not followed by a line feed");
  check_record(records[5], 6, 6, {"ok", "multi\nline"});
  check_bad_record(records[6], 7, 8, "line 8, column 6: text after the closing quote");
}

TEST_CASE("CSV: an error in a later line of a multi-line record names that line", "[csv][AMB-3]") {
  auto records = parse_ok("a,\"b\nc\"x,d\nnext\n");
  REQUIRE(records.size() == 2);
  check_bad_record(records[0], 1, 1, "line 2, column 3: text after the closing quote");
  check_record(records[1], 2, 3, {"next"});
}

TEST_CASE("CSV: a lone CR ends nothing, outside quotes it is an error, inside it is data", "[csv][AMB-10]") {
  // Old Mac line endings: the whole file is one bad record.
  auto mac = parse_ok("BADGE,OPERATION,EMAIL\r1,DELETE,\r");
  REQUIRE(mac.size() == 1);
  check_bad_record(mac[0], 1, 1, "line 1, column 22: a carriage return");
  auto at_end = parse_ok("a,b\r");
  REQUIRE(at_end.size() == 1);
  check_bad_record(at_end[0], 1, 1, "column 4");
  auto quoted = parse_ok("\"a\rb\",c\n");
  REQUIRE(quoted.size() == 1);
  check_record(quoted[0], 1, 1, {"a\rb", "c"});
}

TEST_CASE("CSV: at most 64 values per record", "[csv][UA-9]") {
  std::string sixty_four, sixty_five;
  for (int i = 1; i <= 64; ++i)
    sixty_four += (i > 1 ? "," : "") + std::to_string(i);
  sixty_five = sixty_four + ",\"65\n\"";
  auto records = parse_ok(sixty_four + "\n" + sixty_five + "\n" + sixty_four + ",\n" + "after\n");
  REQUIRE(records.size() == 4);
  CHECK(records[0].error.empty());
  CHECK(records[0].fields.size() == 64);
  CHECK(records[0].fields.back() == "64");
  // The 65th value is still read by the CSV rules (here it spans a line) so the next record is in step.
  check_bad_record(records[1], 2, 2, "more than 64 values");
  CHECK_THAT(records[1].error, Catch::Contains("line 2, column " + std::to_string(sixty_four.size() + 2)));
  // A trailing comma is a 65th (empty) value.
  check_bad_record(records[2], 3, 4, "more than 64 values");
  check_record(records[3], 4, 5, {"after"});
}

TEST_CASE("Custom attributes: the guide's example becomes canonical JSON (UA-21, AMB-7)",
          "[custom-attributes][UA-21][AMB-7]") {
  CHECK(canonical_ok("{'key1':'value1','key2':'value2'}") == R"({"key1":"value1","key2":"value2"})");
  // Keys are sorted.
  CHECK(canonical_ok("{'key2':'value2','key1':'value1'}") == R"({"key1":"value1","key2":"value2"})");
  CHECK(canonical_ok("{}") == "{}");
  CHECK(canonical_ok(" { \t} ") == "{}");
}

TEST_CASE("Custom attributes: quotes of either kind, unquoted values, white space (AMB-7)",
          "[custom-attributes][AMB-7]") {
  CHECK(canonical_ok(R"({"key1":"value1","key2":"value2"})") == R"({"key1":"value1","key2":"value2"})");
  CHECK(canonical_ok(R"({'a':"it's",  "b" : 'say "hi"'})") == R"({"a":"it's","b":"say \"hi\""})");
  CHECK(canonical_ok("{'n':12,'flag': true , 'name':  John Smith ,'path':a\\b:c}") ==
        R"({"flag":"true","n":"12","name":"John Smith","path":"a\\b:c"})");
  // A quoted CSV value may wrap (AMB-3): line breaks between tokens are white space.
  CHECK(canonical_ok("\r\n{\n  'a' : 'x y' ,\r\n  'b':'',\n'c':z\n}\n") == R"({"a":"x y","b":"","c":"z"})");
  // Text is kept as UTF-8.
  CHECK(canonical_ok("{'ville':'Z\xC3\xBCrich','\xE2\x82\xAC':'1'}") ==
        "{\"ville\":\"Z\xC3\xBCrich\",\"\xE2\x82\xAC\":\"1\"}");
}

TEST_CASE("Custom attributes: a backslash escapes the next character inside quotes (AMB-7)",
          "[custom-attributes][AMB-7]") {
  CHECK(canonical_ok(R"({'it\'s':'a \"q\" \\ b'})") == R"({"it's":"a \"q\" \\ b"})");
  CHECK(canonical_ok(R"({"k":"\"\'\\\x"})") == R"({"k":"\"'\\x"})");
}

TEST_CASE("Custom attributes: the canonical form reads back as itself (AMB-7)",
          "[custom-attributes][AMB-7]") {
  for (const char *text : {"{'key1':'value1','key2':'value2'}", R"({'it\'s':'a \"q\" \\ b'})", "{}",
                           "{'z':1,'a':'\xC3\xA9'}", R"({"\\":"\\\\","'":"\""})"}) {
    INFO(text);
    const std::string canonical = canonical_ok(text);
    CHECK(canonical_ok(canonical) == canonical);
  }
}

TEST_CASE("Custom attributes: malformed objects are refused with what and where (AMB-7)",
          "[custom-attributes][AMB-7]") {
  const auto bad = Errc::bad_request;
  check_attributes_error("", bad, "must start with '{' at character 1");
  check_attributes_error("   ", bad, "must start with '{' at character 4");
  check_attributes_error("'a':'b'}", bad, "must start with '{' at character 1");
  check_attributes_error("{'a':'b'", bad, "must end with '}' at character 8");
  check_attributes_error("{", bad, "must end with '}' at character 1");
  check_attributes_error("{'a':'b'} x", bad, "must end with '}' at character 11");
  check_attributes_error("{'a':'b'}{}", bad, "text after the closing '}' at character 10");
  check_attributes_error("{'a':{'b':'c'}}", bad,
                         "the value of key 'a' is nested ('{' or '['); values must be "
                         "strings at character 6");
  check_attributes_error("{'a': ['b']}", bad, "is nested ('{' or '[')");
  check_attributes_error("{'':'x'}", bad, "an empty key at character 2");
  check_attributes_error("{\"\":'x'}", bad, "an empty key at character 2");
  check_attributes_error("{'a':'1','b':'2','a':'3'}", bad, "duplicate key 'a' at character 18");
  check_attributes_error("{'a' 'b'}", bad, "missing ':' after key 'a' at character 6");
  check_attributes_error("{'a','b'}", bad, "missing ':' after key 'a' at character 5");
  check_attributes_error("{'a':'b}", bad,
                         "the quote of the value of key 'a' opened here is never closed at "
                         "character 6");
  check_attributes_error("{'a:'b'}", bad, "missing ':' after key 'a:'");
  check_attributes_error("{'a\\'}", bad, "the quote of a key opened here is never closed at character 2");
  check_attributes_error("{a:'b'}", bad, "a key must be quoted with ' or \" at character 2");
  check_attributes_error("{'a':'b',}", bad,
                         "a key is expected after ',' (remove the trailing comma) at "
                         "character 10");
  check_attributes_error("{'a':}", bad, "missing the value of key 'a' at character 6");
  check_attributes_error("{'a':  ,'b':'c'}", bad, "missing the value of key 'a' at character 8");
  check_attributes_error("{'a':'b' 'c':'d'}", bad,
                         "expected ',' or '}' after the value of key 'a' at character 10");
  check_attributes_error("{'a':b'c'}", bad,
                         "''' inside unquoted the value of key 'a' (quote the value) at "
                         "character 7");
  check_attributes_error("{'a':b]}", bad, "']' inside unquoted");
  check_attributes_error("{'a':'b\x01'}", bad, "a control character in the value of key 'a' at character 8");
  check_attributes_error("{'a':'b\tc'}", bad, "a control character in the value of key 'a' at character 8");
  check_attributes_error("{'a\nb':'c'}", bad, "a control character in a key at character 4");
  check_attributes_error("{'a':b\tc}", bad, "a control character in the value of key 'a' at character 7");
  check_attributes_error("{'a':'\x7F'}", bad, "a control character");
  check_attributes_error("{'a':'\xC2\x85'}", bad,
                         "a control character in the value of key 'a' at character 7");
  check_attributes_error("{'\xC3\xA9':'\xC3'}", bad, "not valid UTF-8 at character 7 (a truncated");
  check_attributes_error("{'a':'\xED\xA0\x80'}", bad, "not valid UTF-8 at character 7 (a UTF-16 surrogate)");
  check_attributes_error("{'a':'\xC0\xAF'}", bad, "(an overlong encoding)");
}

TEST_CASE("Custom attributes: at most 64 pairs, keys of 64 bytes, values of 1024 bytes (AMB-7)",
          "[custom-attributes][AMB-7]") {
  auto object_of = [](int pairs) {
    std::string text = "{";
    for (int i = 0; i < pairs; ++i)
      text += (i ? ",'k" : "'k") + std::to_string(i) + "':'v'";
    return text + "}";
  };
  CHECK(canonical_ok(object_of(64)).size() > 64 * 8);
  check_attributes_error(object_of(65), Errc::too_large, "more than 64 pairs (the next one at character");

  const std::string key64(64, 'k'), value1024(1024, 'v');
  CHECK(canonical_ok("{'" + key64 + "':'" + value1024 + "'}") == "{\"" + key64 + "\":\"" + value1024 + "\"}");
  CHECK(canonical_ok("{'" + key64 + "':" + value1024 + "}") == "{\"" + key64 + "\":\"" + value1024 + "\"}");
  // Escapes are undone before the length is counted.
  CHECK(canonical_ok("{'k':'" + std::string(1023, 'v') + "\\''}").size() == 1024 + 8);
  check_attributes_error("{'" + key64 + "k':'v'}", Errc::too_large,
                         "a key is longer than 64 bytes (at character 67)");
  check_attributes_error("{'k':'" + value1024 + "v'}", Errc::too_large,
                         "the value of key 'k' is longer than 1024 bytes (at character 1031)");
  check_attributes_error("{'k':" + value1024 + "v}", Errc::too_large,
                         "the value of key 'k' is longer than 1024 bytes (at character 1030)");
  // Multi-byte characters count in bytes: 512 two-byte characters fit, 513 do not.
  std::string e_acute_512;
  for (int i = 0; i < 512; ++i)
    e_acute_512 += "\xC3\xA9";
  CHECK(canonical_ok("{'k':'" + e_acute_512 + "'}").size() == 1024 + 8);
  check_attributes_error("{'k':'" + e_acute_512 + "\xC3\xA9'}", Errc::too_large, "longer than 1024 bytes");
}
