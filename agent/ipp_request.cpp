// Request checks and job tickets of the capture printer.
#include "ipp_request.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "ipp_printer_attributes.h"

namespace lpm::agent {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is(const char *a, const char *b) {
  return a != nullptr && std::strcmp(a, b) == 0;
}

// The attribute `name` in `group`, or nullptr.
ipp_attribute_t *find_in(ipp_t *request, const char *name, ipp_tag_t group) {
  for (ipp_attribute_t *a = ippFirstAttribute(request); a != nullptr; a = ippNextAttribute(request))
    if (ippGetGroupTag(a) == group && is(ippGetName(a), name)) return a;
  return nullptr;
}

bool single(ipp_attribute_t *a, ipp_tag_t tag) {
  return ippGetCount(a) == 1 && ippGetValueTag(a) == tag;
}

bool single_name(ipp_attribute_t *a) {
  ipp_tag_t t = ippGetValueTag(a);
  return ippGetCount(a) == 1 && (t == IPP_TAG_NAME || t == IPP_TAG_NAMELANG);
}

bool single_keyword_or_name(ipp_attribute_t *a) {
  ipp_tag_t t = ippGetValueTag(a);
  return ippGetCount(a) == 1 && (t == IPP_TAG_KEYWORD || t == IPP_TAG_NAME || t == IPP_TAG_NAMELANG);
}

IppOutcome unsupported_value(ipp_attribute_t *a, const std::string &why) {
  return IppOutcome::fail(IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES, std::string(ippGetName(a)) + ": " + why, a);
}

bool is_job_operation(ipp_op_t op) {
  return op == IPP_OP_SEND_DOCUMENT || op == IPP_OP_CANCEL_JOB || op == IPP_OP_GET_JOB_ATTRIBUTES;
}

std::string uri_resource(const char *uri) {
  char scheme[32], userpass[256], host[256], resource[1024];
  int port = 0;
  if (httpSeparateURI(HTTP_URI_CODING_ALL, uri, scheme, sizeof scheme, userpass, sizeof userpass, host,
                      sizeof host, &port, resource, sizeof resource) < HTTP_URI_STATUS_OK)
    return {};
  // CUPS keeps device-URI options in the query ("?waitjob=false") and sends them along.
  std::string path = resource;
  auto query = path.find('?');
  if (query != std::string::npos) path.resize(query);
  return path;
}

// A job-uri of this printer: ipp://HOST:PORT/ipp/print/<job-id>.
std::optional<int32_t> job_id_from_uri(const char *uri) {
  std::string path = uri_resource(uri);
  std::string prefix = std::string(kIppPrinterPath) + "/";
  if (path.rfind(prefix, 0) != 0) return std::nullopt;
  std::string digits = path.substr(prefix.size());
  if (digits.empty() || digits.size() > 10 || !std::all_of(digits.begin(), digits.end(), ::isdigit))
    return std::nullopt;
  long long v = std::stoll(digits);
  if (v < 1 || v > INT32_MAX) return std::nullopt;
  return static_cast<int32_t>(v);
}

// The media-col value names one of our media sizes (by media-size-name or by its dimensions).
bool media_col_supported(ipp_attribute_t *a, const std::vector<std::string> &sizes) {
  ipp_t *col = ippGetCollection(a, 0);
  if (col == nullptr) return false;
  if (ipp_attribute_t *name = ippFindAttribute(col, "media-size-name", IPP_TAG_ZERO)) {
    const char *n = ippGetString(name, 0, nullptr);
    if (n == nullptr || std::find(sizes.begin(), sizes.end(), n) == sizes.end()) return false;
  }
  if (ipp_attribute_t *size = ippFindAttribute(col, "media-size", IPP_TAG_BEGIN_COLLECTION)) {
    ipp_t *dims = ippGetCollection(size, 0);
    ipp_attribute_t *x = dims ? ippFindAttribute(dims, "x-dimension", IPP_TAG_INTEGER) : nullptr;
    ipp_attribute_t *y = dims ? ippFindAttribute(dims, "y-dimension", IPP_TAG_INTEGER) : nullptr;
    if (x == nullptr || y == nullptr) return false;
    pwg_media_t *m = pwgMediaForSize(ippGetInteger(x, 0), ippGetInteger(y, 0));
    if (m == nullptr || m->pwg == nullptr || std::find(sizes.begin(), sizes.end(), m->pwg) == sizes.end())
      return false;
  }
  return true;
}

// Checks one job-template attribute the printer advertises. Returns false when `a` is not one
// of them (the caller decides whether to ignore it).
bool read_template(ipp_attribute_t *a, const packaging::CaptureCapabilities &caps, IppJobTicket &ticket,
                   IppOutcome &out) {
  const char *name = ippGetName(a);
  if (is(name, "copies")) {
    if (!single(a, IPP_TAG_INTEGER) || ippGetInteger(a, 0) < 1 || ippGetInteger(a, 0) > kMaxIppCopies)
      out = unsupported_value(a, "must be one integer from 1 to " + std::to_string(kMaxIppCopies));
    else
      ticket.copies = static_cast<uint64_t>(ippGetInteger(a, 0));
  } else if (is(name, "sides")) {
    const char *v = single(a, IPP_TAG_KEYWORD) ? ippGetString(a, 0, nullptr) : nullptr;
    bool ok = is(v, "one-sided") ||
              (caps.duplex && (is(v, "two-sided-long-edge") || is(v, "two-sided-short-edge")));
    if (!ok)
      out =
          unsupported_value(a, caps.duplex ? "must be one-sided, two-sided-long-edge or two-sided-short-edge"
                                           : "must be one-sided (this printer is configured without duplex)");
    else
      ticket.sides = v;
  } else if (is(name, "print-color-mode")) {
    const char *v = single(a, IPP_TAG_KEYWORD) ? ippGetString(a, 0, nullptr) : nullptr;
    if (is(v, "monochrome"))
      ticket.color = "monochrome";
    else if (is(v, "auto") || (caps.color && is(v, "color")))
      ticket.color = caps.color ? "color" : "monochrome";
    else
      out = unsupported_value(
          a, caps.color ? "must be auto, color or monochrome"
                        : "must be auto or monochrome (this printer is configured without color)");
  } else if (is(name, "media")) {
    const char *v = single_keyword_or_name(a) ? ippGetString(a, 0, nullptr) : nullptr;
    if (v == nullptr ||
        std::find(caps.media_sizes.begin(), caps.media_sizes.end(), v) == caps.media_sizes.end())
      out = unsupported_value(a, "is not one of media-supported");
  } else if (is(name, "media-col")) {
    if (!single(a, IPP_TAG_BEGIN_COLLECTION) || !media_col_supported(a, caps.media_sizes))
      out = unsupported_value(a, "does not name a size of media-supported");
  } else if (is(name, "orientation-requested")) {
    int v = single(a, IPP_TAG_ENUM) ? ippGetInteger(a, 0) : 0;
    if (v < IPP_ORIENT_PORTRAIT || v > IPP_ORIENT_REVERSE_PORTRAIT)
      out = unsupported_value(a, "must be one enum from 3 to 6");
  } else if (is(name, "print-quality")) {
    int v = single(a, IPP_TAG_ENUM) ? ippGetInteger(a, 0) : 0;
    if (v < IPP_QUALITY_DRAFT || v > IPP_QUALITY_HIGH)
      out = unsupported_value(a, "must be one enum from 3 to 5");
  } else if (is(name, "printer-resolution")) {
    ipp_res_t units = IPP_RES_PER_INCH;
    int y = 0;
    int x = single(a, IPP_TAG_RESOLUTION) ? ippGetResolution(a, 0, &y, &units) : 0;
    // The units byte comes from the wire and may be no ipp_res_t value: read it as bytes.
    int units_value = 0;
    std::memcpy(&units_value, &units, std::min(sizeof units_value, sizeof units));
    if (units_value != IPP_RES_PER_INCH || x != y || (x != 300 && x != 600))
      out = unsupported_value(a, "must be 300 or 600 dpi");
  } else if (is(name, "finishings")) {
    bool ok = ippGetValueTag(a) == IPP_TAG_ENUM;
    for (int i = 0; ok && i < ippGetCount(a); i++)
      ok = ippGetInteger(a, i) == IPP_FINISHINGS_NONE;
    if (!ok) out = unsupported_value(a, "only 3 (none) is supported");
  } else if (is(name, "output-bin")) {
    if (!single_keyword_or_name(a) || !is(ippGetString(a, 0, nullptr), "face-down"))
      out = unsupported_value(a, "only face-down is supported");
  } else if (is(name, "number-up")) {
    if (!single(a, IPP_TAG_INTEGER) || ippGetInteger(a, 0) != 1)
      out = unsupported_value(a, "only 1 is supported");
  } else if (is(name, "job-sheets")) {
    bool ok = ippGetCount(a) >= 1 && ippGetCount(a) <= 2;
    for (int i = 0; ok && i < ippGetCount(a); i++)
      ok = is(ippGetString(a, i, nullptr), "none");
    if (!ok) out = unsupported_value(a, "only none is supported");
  } else {
    return false;
  }
  return true;
}

} // namespace

IppOutcome IppOutcome::fail(ipp_status_t status, std::string message, ipp_attribute_t *unsupported) {
  IppOutcome o;
  o.status = status;
  o.message = std::move(message);
  if (unsupported != nullptr) o.unsupported.push_back(unsupported);
  return o;
}

namespace {

// RFC 5646 language tags as RFC 8011 uses them: 1-8 letters, then "-" and 1-8 letters or digits.
bool is_language_tag(std::string_view v) {
  size_t part = 0, len = 0;
  if (v.empty()) return false;
  for (char c : v) {
    if (c == '-') {
      if (len == 0) return false;
      part++;
      len = 0;
      continue;
    }
    bool ok = std::isalpha(static_cast<unsigned char>(c)) || (part > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok || ++len > 8) return false;
  }
  return len > 0;
}

// RFC 2045 token characters.
bool is_token_char(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u > 32 && u < 127 && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

// type "/" subtype, then optional ";" parameters (RFC 2045 / RFC 8011 mimeMediaType).
bool is_media_type(std::string_view v) {
  size_t slash = v.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 >= v.size()) return false;
  size_t semi = v.find(';');
  std::string_view type = v.substr(0, slash);
  std::string_view sub = v.substr(slash + 1, semi == std::string_view::npos ? std::string_view::npos : semi - slash - 1);
  if (sub.empty()) return false;
  for (char c : type)
    if (!is_token_char(c)) return false;
  for (char c : sub)
    if (!is_token_char(c)) return false;
  for (size_t i = semi == std::string_view::npos ? v.size() : semi; i < v.size(); i++) {
    unsigned char u = static_cast<unsigned char>(v[i]);
    if (u < 32 || u == 127) return false;
  }
  return true;
}

// libcups' ippValidateAttribute for every attribute, except the two value syntaxes for which it
// compiles a regular expression on every call (naturalLanguage, mimeMediaType): those are
// checked here, to the same grammar, at a fraction of the cost (the accept-rate benchmark).
IppOutcome validate_attributes(ipp_t *request) {
  for (ipp_attribute_t *a = ippFirstAttribute(request); a != nullptr; a = ippNextAttribute(request)) {
    ipp_tag_t tag = ippGetValueTag(a);
    if (tag == IPP_TAG_LANGUAGE || tag == IPP_TAG_MIMETYPE) {
      const char *name = ippGetName(a);
      if (name == nullptr || *name == '\0')
        return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "an attribute has an empty name");
      for (int i = 0; i < ippGetCount(a); i++) {
        const char *value = ippGetString(a, i, nullptr);
        std::string_view v = value ? value : "";
        bool ok = v.size() < IPP_MAX_LENGTH && (tag == IPP_TAG_LANGUAGE ? is_language_tag(v) : is_media_type(v));
        if (!ok)
          return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST,
                                  std::string("\"") + std::string(v.substr(0, 64)) + "\": bad " +
                                      (tag == IPP_TAG_LANGUAGE ? "naturalLanguage" : "mimeMediaType") +
                                      " value for " + name);
      }
      continue;
    }
    if (!ippValidateAttribute(a)) return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, cupsLastErrorString());
  }
  return IppOutcome{};
}

} // namespace

IppOutcome ipp_check_request(const IppHeader &header, ipp_t *request, IppTarget &target) {
  if (header.major < 1 || header.major > 2)
    return IppOutcome::fail(IPP_STATUS_ERROR_VERSION_NOT_SUPPORTED,
                            "IPP version " + std::to_string(header.major) + "." +
                                std::to_string(header.minor) + " is not supported: use 1.1 or 2.0");
  if (header.request_id <= 0)
    return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "request-id must be from 1 to 2147483647, not " +
                                                              std::to_string(header.request_id));

  ipp_attribute_t *charset = ippFirstAttribute(request);
  if (charset == nullptr || ippGetGroupTag(charset) != IPP_TAG_OPERATION ||
      !is(ippGetName(charset), "attributes-charset") || !single(charset, IPP_TAG_CHARSET))
    return IppOutcome::fail(
        IPP_STATUS_ERROR_BAD_REQUEST,
        "the first operation attribute must be attributes-charset (RFC 8011 section 4.1.4)");
  ipp_attribute_t *language = ippNextAttribute(request);
  if (language == nullptr || ippGetGroupTag(language) != IPP_TAG_OPERATION ||
      !is(ippGetName(language), "attributes-natural-language") || !single(language, IPP_TAG_LANGUAGE))
    return IppOutcome::fail(
        IPP_STATUS_ERROR_BAD_REQUEST,
        "the second operation attribute must be attributes-natural-language (RFC 8011 section 4.1.4)");
  std::string cs = lower(ippGetString(charset, 0, nullptr));
  if (cs != "utf-8" && cs != "us-ascii")
    return IppOutcome::fail(IPP_STATUS_ERROR_CHARSET,
                            "attributes-charset " + cs + " is not supported: use utf-8", charset);
  IppOutcome valid = validate_attributes(request);
  if (!valid.ok()) return valid;

  const int code = header.operation;
  const auto &ops = ipp_operations_supported();
  if (code == IPP_OP_PRINT_URI || code == IPP_OP_SEND_URI)
    return IppOutcome::fail(IPP_STATUS_ERROR_OPERATION_NOT_SUPPORTED,
                            std::string(code == IPP_OP_PRINT_URI ? "Print-URI" : "Send-URI") +
                                " is not supported: the agent never fetches documents by reference; send the "
                                "document in the request (Print-Job or Send-Document)");
  if (std::none_of(ops.begin(), ops.end(), [code](ipp_op_t op) { return static_cast<int>(op) == code; })) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%04x", static_cast<unsigned>(code));
    return IppOutcome::fail(IPP_STATUS_ERROR_OPERATION_NOT_SUPPORTED,
                            std::string("operation ") + hex + " is not supported by this printer");
  }
  const ipp_op_t op = static_cast<ipp_op_t>(code);

  ipp_attribute_t *job_uri = is_job_operation(op) ? find_in(request, "job-uri", IPP_TAG_OPERATION) : nullptr;
  ipp_attribute_t *printer_uri = find_in(request, "printer-uri", IPP_TAG_OPERATION);
  if (job_uri != nullptr) {
    const char *uri = single(job_uri, IPP_TAG_URI) ? ippGetString(job_uri, 0, nullptr) : nullptr;
    if (uri == nullptr)
      return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "job-uri must be one uri value");
    target.job_id = job_id_from_uri(uri);
    if (!target.job_id)
      return IppOutcome::fail(IPP_STATUS_ERROR_NOT_FOUND, std::string("job-uri ") + uri +
                                                              " names no job of this printer (" +
                                                              kIppPrinterPath + "/<job-id>)");
    return {};
  }
  if (printer_uri == nullptr)
    return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST,
                            is_job_operation(op) ? "printer-uri and job-id, or job-uri, are required"
                                                 : "printer-uri is required (RFC 8011 section 4.2)");
  const char *uri = single(printer_uri, IPP_TAG_URI) ? ippGetString(printer_uri, 0, nullptr) : nullptr;
  if (uri == nullptr)
    return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "printer-uri must be one uri value");
  if (uri_resource(uri) != kIppPrinterPath)
    return IppOutcome::fail(IPP_STATUS_ERROR_NOT_FOUND, std::string("printer-uri ") + uri +
                                                            " names no printer here: the printer is " +
                                                            kIppPrinterPath);
  if (is_job_operation(op)) {
    ipp_attribute_t *id = find_in(request, "job-id", IPP_TAG_OPERATION);
    if (id == nullptr)
      return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "job-id is required with printer-uri");
    if (!single(id, IPP_TAG_INTEGER))
      return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "job-id must be one integer value");
    if (ippGetInteger(id, 0) < 1)
      return IppOutcome::fail(IPP_STATUS_ERROR_NOT_FOUND,
                              "job-id " + std::to_string(ippGetInteger(id, 0)) + " names no job");
    target.job_id = ippGetInteger(id, 0);
  }
  return {};
}

std::string ipp_requesting_user(ipp_t *request) {
  ipp_attribute_t *a = find_in(request, "requesting-user-name", IPP_TAG_OPERATION);
  if (a == nullptr || !single_name(a)) return {};
  const char *v = ippGetString(a, 0, nullptr);
  return v != nullptr ? v : "";
}

std::optional<bool> ipp_boolean_attribute(ipp_t *request, const char *name, ipp_attribute_t **bad) {
  ipp_attribute_t *a = find_in(request, name, IPP_TAG_OPERATION);
  if (a == nullptr) return std::nullopt;
  if (!single(a, IPP_TAG_BOOLEAN)) {
    *bad = a;
    return std::nullopt;
  }
  return ippGetBoolean(a, 0) != 0;
}

IppOutcome ipp_read_job_ticket(ipp_t *request, const packaging::CaptureCapabilities &caps,
                               IppJobTicket &ticket) {
  ticket.requesting_user = ipp_requesting_user(request);

  ipp_attribute_t *bad = nullptr;
  bool fidelity = ipp_boolean_attribute(request, "ipp-attribute-fidelity", &bad).value_or(false);
  if (bad != nullptr)
    return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "ipp-attribute-fidelity must be one boolean", bad);
  ticket.last_document = ipp_boolean_attribute(request, "last-document", &bad);
  if (bad != nullptr)
    return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "last-document must be one boolean", bad);

  for (const char *name : {"job-name", "document-name"}) {
    ipp_attribute_t *a = find_in(request, name, IPP_TAG_OPERATION);
    if (a == nullptr) continue;
    if (!single_name(a))
      return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, std::string(name) + " must be one name", a);
    const char *v = ippGetString(a, 0, nullptr);
    if (ticket.title.empty() && v != nullptr && *v != '\0') ticket.title = v;
  }

  if (ipp_attribute_t *a = find_in(request, "compression", IPP_TAG_OPERATION)) {
    if (!single(a, IPP_TAG_KEYWORD) || !is(ippGetString(a, 0, nullptr), "none"))
      return IppOutcome::fail(IPP_STATUS_ERROR_COMPRESSION_NOT_SUPPORTED,
                              "compression: only none is supported (send the document uncompressed)", a);
  }
  if (ipp_attribute_t *a = find_in(request, "document-format", IPP_TAG_OPERATION)) {
    const char *v = single(a, IPP_TAG_MIMETYPE) ? ippGetString(a, 0, nullptr) : nullptr;
    std::string format = v != nullptr ? lower(v) : "";
    auto params = format.find(';');
    if (params != std::string::npos) format.resize(params);
    const auto formats = ipp_document_formats(caps);
    if (std::find(formats.begin(), formats.end(), format) == formats.end()) {
      std::string list;
      for (const auto &f : formats)
        list += (list.empty() ? "" : ", ") + f;
      return IppOutcome::fail(IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                              "document-format " +
                                  (v != nullptr ? std::string(v) : std::string("(not one mimeMediaType)")) +
                                  " is not supported by this printer: send one of " + list,
                              a);
    }
    ticket.format = format;
  }

  IppOutcome result;
  for (ipp_attribute_t *a = ippFirstAttribute(request); a != nullptr; a = ippNextAttribute(request)) {
    if (ippGetGroupTag(a) != IPP_TAG_JOB || ippGetName(a) == nullptr) continue;
    IppOutcome checked;
    if (read_template(a, caps, ticket, checked)) {
      if (!checked.ok()) return checked;
      continue;
    }
    // RFC 8011 section 4.1.7: an attribute the printer does not support is ignored unless the
    // client asked for fidelity.
    if (fidelity)
      return IppOutcome::fail(
          IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES,
          std::string(ippGetName(a)) + " is not supported and ipp-attribute-fidelity is true", a);
    result.status = IPP_STATUS_OK_IGNORED_OR_SUBSTITUTED;
    result.unsupported.push_back(a);
  }
  if (!result.unsupported.empty()) {
    result.message = "ignored unsupported job attribute";
    result.message += result.unsupported.size() > 1 ? "s:" : ":";
    for (ipp_attribute_t *a : result.unsupported)
      result.message += std::string(" ") + ippGetName(a);
  }
  return result;
}

IppOutcome ipp_read_jobs_query(ipp_t *request, IppJobsQuery &query) {
  if (ipp_attribute_t *a = find_in(request, "which-jobs", IPP_TAG_OPERATION)) {
    const char *v = single(a, IPP_TAG_KEYWORD) ? ippGetString(a, 0, nullptr) : nullptr;
    if (is(v, "completed"))
      query.which = IppJobsQuery::Which::completed;
    else if (is(v, "not-completed"))
      query.which = IppJobsQuery::Which::not_completed;
    else if (is(v, "all"))
      query.which = IppJobsQuery::Which::all;
    else
      return unsupported_value(a, "must be completed, not-completed or all");
  }
  if (ipp_attribute_t *a = find_in(request, "limit", IPP_TAG_OPERATION)) {
    if (!single(a, IPP_TAG_INTEGER) || ippGetInteger(a, 0) < 1)
      return unsupported_value(a, "must be one integer from 1 to 2147483647");
    query.limit = ippGetInteger(a, 0);
  }
  ipp_attribute_t *bad = nullptr;
  (void)ipp_boolean_attribute(request, "my-jobs", &bad);
  if (bad != nullptr)
    return IppOutcome::fail(IPP_STATUS_ERROR_BAD_REQUEST, "my-jobs must be one boolean", bad);
  query.requested_given = find_in(request, "requested-attributes", IPP_TAG_OPERATION) != nullptr;
  return {};
}

} // namespace lpm::agent
