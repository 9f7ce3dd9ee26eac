#!/usr/bin/env bash
# The SPEC traceability matrix (DESIGN §11): for every requirement ID of SPEC.md (the copy in
# docs/spec-ids.txt), the test assertions that cite it, and its scope from tests/spec_scope.txt.
#
#   scripts/spec_matrix.sh [--out FILE] [--check]
#
# A test covers an ID when it cites it (pattern <FAMILY>-<n>, e.g. UA-3 or AMB-12) in
#   - the name or the tags of a Catch2 TEST_CASE, SCENARIO or SECTION in tests/unit/**/*.cpp;
#   - the message of a `check "..."` or `fail "..."` (scripts/lib/testing.sh) in
#     tests/integration/*.sh.
# The scope file holds one line per ID: `ID required`, `ID deferred: reason` or
# `ID later: issue N`. Without --out the matrix goes to stdout; with it, to FILE, and the summary
# line to stdout. --check exits 1 when a required ID has no covering test, when the scope file
# does not list every ID exactly once with a valid status, or when a test cites an ID SPEC.md
# does not have. Exit 2: usage error.
set -euo pipefail

usage() {
  sed -n '5p' "$0" | sed 's/^# *//' >&2
  exit 2
}

out=""
check=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --out)
      [[ $# -ge 2 ]] || usage
      out=$2
      shift 2
      ;;
    --check)
      check=1
      shift
      ;;
    *) usage ;;
  esac
done
[[ -z $out || $out == /* ]] || out="$PWD/$out"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
ids_file=docs/spec-ids.txt
scope_file=tests/spec_scope.txt
for f in "$ids_file" "$scope_file"; do
  [[ -r $f ]] || {
    echo "spec_matrix: $f is missing" >&2
    exit 1
  }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/spec-matrix.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LC_ALL=C

# Prints "ID<TAB>file:line<TAB>what" for every ID cited in TEXT (the awk function below is
# shared by both scanners). An ID must not touch a letter, digit or underscore on either side.
# shellcheck disable=SC2016
cite_ids_awk='
function cite_ids(text, where, what,    rest, before, id, seen) {
  rest = text
  before = ""
  while (match(rest, /(EN|DB|UA|BD|RL|GR|PM|RT|PK|RP|TS|AMB)-[0-9]+/)) {
    id = substr(rest, RSTART, RLENGTH)
    if (RSTART > 1) before = substr(rest, RSTART - 1, 1)
    if (before !~ /[A-Za-z0-9_]/ && substr(rest, RSTART + RLENGTH, 1) !~ /[A-Za-z0-9_]/ && !(id in seen)) {
      seen[id] = 1
      gsub(/\|/, "\\|", what)
      printf "%s\t%s\t%s\n", id, where, what
    }
    before = substr(id, length(id), 1)
    rest = substr(rest, RSTART + RLENGTH)
  }
}
'

# Catch2 test cases and sections: the call may span lines, so lines are gathered until its
# closing parenthesis; the first argument is the name (adjacent literals joined), the second
# the tags. A section is shown under its test case.
mapfile -t unit_files < <(find tests/unit -name '*.cpp' | sort)
if [[ ${#unit_files[@]} -gt 0 ]]; then
  awk "$cite_ids_awk"'
    # Sets NAME and TAGS from a macro call in buf; 1 when the call is complete.
    function parse_call(buf,    i, c, depth, in_string, escaped, arg) {
      NAME = ""; TAGS = ""; arg = 0; depth = 1; in_string = 0; escaped = 0
      for (i = index(buf, "(") + 1; i <= length(buf); i++) {
        c = substr(buf, i, 1)
        if (in_string) {
          if (escaped) escaped = 0
          else if (c == "\\") { escaped = 1; continue }
          else if (c == "\"") { in_string = 0; continue }
          if (arg == 0) NAME = NAME c
          else if (arg == 1) TAGS = TAGS c
        } else if (c == "\"") in_string = 1
        else if (c == "(") depth++
        else if (c == ")") { if (--depth == 0) return 1 }
        else if (c == "," && depth == 1) arg++
      }
      return 0
    }
    function flush(    what) {
      if (kind == "") return
      parse_call(buf)
      if (kind == "SECTION") what = test_name " / " NAME
      else { test_name = NAME; what = NAME }
      cite_ids(NAME " " TAGS, FILENAME ":" start, what)
      kind = ""
    }
    FNR == 1 { kind = ""; test_name = "" }
    kind != "" {
      buf = buf " " $0
      if (parse_call(buf) || ++gathered > 12) flush()
      next
    }
    /^[ \t]*(TEST_CASE|SCENARIO|SECTION)[ \t]*\(/ {
      kind = $0
      sub(/^[ \t]*/, "", kind)
      sub(/[ \t]*\(.*/, "", kind)
      buf = $0; start = FNR; gathered = 0
      if (parse_call(buf)) flush()
    }
  ' "${unit_files[@]}" >>"$work/cited"
fi

# Integration assertions: the message of `check "..."` and `fail "..."`.
mapfile -t integration_files < <(find tests/integration -maxdepth 1 -name '*.sh' | sort)
if [[ ${#integration_files[@]} -gt 0 ]]; then
  awk "$cite_ids_awk"'
    {
      line = $0
      while (match(line, /(^|[^A-Za-z0-9_-])(check|fail)[ \t]+["\047]/)) {
        helper = substr(line, RSTART, RLENGTH) ~ /check/ ? "check" : "fail"
        line = substr(line, RSTART + RLENGTH - 1)
        quote = substr(line, 1, 1)
        message = ""; escaped = 0
        for (i = 2; i <= length(line); i++) {
          c = substr(line, i, 1)
          if (escaped) { escaped = 0; message = message c; continue }
          if (c == "\\" && quote == "\"") { escaped = 1; continue }
          if (c == quote) break
          message = message c
        }
        cite_ids(message, FILENAME ":" FNR, helper ": " message)
        line = substr(line, i + 1)
      }
    }
  ' "${integration_files[@]}" >>"$work/cited"
fi
touch "$work/cited"

# Joins the ID list, the scope and the citations; writes the matrix to $work/matrix.md and
# reports to stdout: "problem <text>", "uncovered <ID>", "unscoped-covered <ID>", "summary <text>".
awk -F '\t' -v matrix="$work/matrix.md" '
  function md(text) { gsub(/\|/, "\\|", text); return text }
  FILENAME == ARGV[1] {
    if ($0 ~ /^[ \t]*(#|$)/) next
    split($0, parts, " ")
    id = parts[1]
    if (id in title) { print "problem docs/spec-ids.txt lists " id " twice"; next }
    order[++n] = id
    title[id] = substr($0, length(id) + 2)
    next
  }
  FILENAME == ARGV[2] {
    if ($0 ~ /^[ \t]*(#|$)/) next
    line = $0
    sub(/[ \t]+$/, "", line)
    id = line; sub(/[ \t].*/, "", id)
    status = line; sub(/^[^ \t]+[ \t]+/, "", status)
    if (!(id in title)) { print "problem tests/spec_scope.txt:" FNR ": " id " is not an ID of SPEC.md"; next }
    if (id in scope) { print "problem tests/spec_scope.txt:" FNR ": " id " is listed twice"; next }
    if (status != "required" && status !~ /^deferred: [^ ]/ && status !~ /^later: issue [0-9]+([^0-9]|$)/) {
      print "problem tests/spec_scope.txt:" FNR ": " id ": status must be \"required\", \"deferred: <reason>\" or \"later: issue <N>\", not \"" status "\""
      next
    }
    scope[id] = status
    next
  }
  {
    id = $1
    if (!(id in title)) { print "problem " $2 " cites " id ", which SPEC.md does not have"; next }
    entry = "`" $2 "` " $3
    if (id in where) entry = where[id] "<br>" entry
    where[id] = entry
  }
  END {
    required = covered_required = cited = later = deferred = 0
    for (i = 1; i <= n; i++) {
      id = order[i]
      if (!(id in scope)) { print "problem tests/spec_scope.txt has no line for " id; scope[id] = "(missing)" }
      if (id in where) cited++
      if (scope[id] == "required") {
        required++
        if (id in where) covered_required++
        else print "uncovered " id
      } else if (id in where) print "unscoped-covered " id
      if (scope[id] ~ /^later:/) later++
      if (scope[id] ~ /^deferred:/) deferred++
    }
    summary = covered_required " of " required " required IDs covered; " cited " of " n \
              " SPEC IDs cited by a test; " later " later, " deferred " deferred"
    print "# SPEC traceability matrix" > matrix
    print "" > matrix
    print "Generated by `scripts/spec_matrix.sh` from `docs/spec-ids.txt` (every ID of SPEC.md), " \
          "`tests/spec_scope.txt` (the scope of each ID) and the IDs that test names, tags and " \
          "check messages cite (`tests/unit/**/*.cpp`, `tests/integration/*.sh`). Do not edit." > matrix
    print "" > matrix
    print summary "." > matrix
    print "" > matrix
    print "| ID | requirement | scope | covered by |" > matrix
    print "|---|---|---|---|" > matrix
    for (i = 1; i <= n; i++) {
      id = order[i]
      covered_by = (id in where) ? where[id] : (scope[id] == "required" ? "**none**" : "")
      print "| " id " | " md(title[id]) " | " md(scope[id]) " | " covered_by " |" > matrix
    }
    print "summary " summary
  }
' "$ids_file" "$scope_file" "$work/cited" >"$work/report"

mapfile -t problems < <(sed -n 's/^problem //p' "$work/report")
uncovered=$(sed -n 's/^uncovered //p' "$work/report" | tr '\n' ' ')
promotable=$(sed -n 's/^unscoped-covered //p' "$work/report" | tr '\n' ' ')
summary=$(sed -n 's/^summary //p' "$work/report")

if [[ -n $out ]]; then
  mkdir -p "$(dirname "$out")"
  cp "$work/matrix.md" "$out"
  echo "spec_matrix: $summary (matrix in $out)"
else
  cat "$work/matrix.md"
fi
[[ ${#problems[@]} -eq 0 ]] || printf 'spec_matrix: %s\n' "${problems[@]}" >&2
[[ -z $promotable ]] || echo "spec_matrix: covered, could be marked required: ${promotable% }" >&2

if [[ $check -eq 1 ]]; then
  status=0
  if [[ -n $uncovered ]]; then
    echo "spec_matrix: required IDs without a covering test: ${uncovered% }" >&2
    status=1
  fi
  [[ ${#problems[@]} -eq 0 ]] || status=1
  exit $status
fi
