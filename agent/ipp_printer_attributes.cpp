// The capture printer's attribute set. Values that describe no real device (speed, resolution,
// margins) are the common ones of office printers: they shape the PPD CUPS builds, and the
// release station later checks the real device before sending anything to it.
#include "ipp_printer_attributes.h"

#include <cups/pwg.h>

#include <cstdio>

#include "job_store.h"
#include "lpm/protocol/keys.h"

namespace lpm::agent {

namespace {

constexpr int kMarginHundredthsMm = 423; // 1/6 inch, what most office printers leave blank
constexpr int kPagesPerMinute = 60;

// Each call adds one collection value to `values` and returns it for the caller to fill.
struct Collections {
  std::vector<ipp_t *> values;
  ~Collections() {
    for (ipp_t *c : values)
      ippDelete(c);
  }
  ipp_t *add() {
    values.push_back(ippNew());
    return values.back();
  }
  const ipp_t **data() { return const_cast<const ipp_t **>(values.data()); }
  int size() const { return static_cast<int>(values.size()); }
};

void add_media_size(ipp_t *col, const pwg_media_t &media) {
  ipp_t *size = ippNew();
  ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", media.width);
  ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", media.length);
  ippAddCollection(col, IPP_TAG_ZERO, "media-size", size);
  ippDelete(size);
}

void add_media_col(ipp_t *col, const pwg_media_t &media) {
  add_media_size(col, media);
  ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-size-name", nullptr, media.pwg);
  for (const char *name :
       {"media-bottom-margin", "media-left-margin", "media-right-margin", "media-top-margin"})
    ippAddInteger(col, IPP_TAG_ZERO, IPP_TAG_INTEGER, name, kMarginHundredthsMm);
}

void add_keywords(ipp_t *a, const char *name, const std::vector<const char *> &values) {
  ippAddStrings(a, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, name, static_cast<int>(values.size()), nullptr,
                values.data());
}

void add_resolutions(ipp_t *a, const char *name) {
  const int dpi[] = {300, 600};
  ippAddResolutions(a, IPP_TAG_PRINTER, name, 2, IPP_RES_PER_INCH, dpi, dpi);
}

} // namespace

const std::vector<ipp_op_t> &ipp_operations_supported() {
  static const std::vector<ipp_op_t> ops = {
      IPP_OP_PRINT_JOB,  IPP_OP_VALIDATE_JOB,       IPP_OP_CREATE_JOB, IPP_OP_SEND_DOCUMENT,
      IPP_OP_CANCEL_JOB, IPP_OP_GET_JOB_ATTRIBUTES, IPP_OP_GET_JOBS,   IPP_OP_GET_PRINTER_ATTRIBUTES,
  };
  return ops;
}

std::vector<std::string> ipp_document_formats(const packaging::CaptureCapabilities &capabilities) {
  std::vector<std::string> formats = capabilities.document_formats;
  formats.push_back("application/octet-stream");
  return formats;
}

std::string ipp_printer_uri(uint16_t port) {
  return "ipp://localhost:" + std::to_string(port) + kIppPrinterPath;
}

std::string ipp_printer_uuid(const std::string &workstation_id) {
  std::string seed = "lpm capture printer";
  seed.push_back('\0');
  seed += workstation_id;
  proto::Bytes h =
      proto::sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(seed.data()), seed.size()));
  h[6] = static_cast<uint8_t>((h[6] & 0x0F) | 0x50); // version 5 (name-based, SHA)
  h[8] = static_cast<uint8_t>((h[8] & 0x3F) | 0x80); // RFC 4122 variant
  char text[64];
  std::snprintf(text, sizeof text,
                "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1],
                h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
  return text;
}

Result<IppPtr> ipp_printer_attributes(const IppPrinterDescription &d) {
  const packaging::CaptureCapabilities &caps = d.capabilities;
  if (caps.media_sizes.empty())
    return make_error(Errc::bad_request, "configuration.xml: <CaptureCapabilities> lists no <MediaSize>");
  std::vector<const pwg_media_t *> media;
  for (const std::string &name : caps.media_sizes) {
    const pwg_media_t *m = pwgMediaForPWG(name.c_str());
    if (m == nullptr || m->width <= 0 || m->length <= 0)
      return make_error(Errc::bad_request,
                        "configuration.xml: <CaptureCapabilities><MediaSize> \"" + name +
                            "\" is not a PWG media name with a size (e.g. iso_a4_210x297mm)");
    media.push_back(m);
  }

  IppPtr a(ippNew());
  ipp_t *p = a.get();
  const std::string uri = ipp_printer_uri(d.port);
  const std::string more_info = "http://localhost:" + std::to_string(d.port) + "/";
  time_t started = time(nullptr);

  // Identity and description.
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_NAME, "printer-name", nullptr, d.name.c_str());
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-info", nullptr,
               "Held by the LPM agent until you release it at a printer");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-location", nullptr, d.location.c_str());
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-make-and-model", nullptr,
               "LPM Serverless Print Release");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-device-id", nullptr,
               "MFG:LPM;MDL:Serverless Print Release;CMD:PDF,PS,PWGRaster,URF;");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_URI, "printer-more-info", nullptr, more_info.c_str());
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_URI, "printer-uuid", nullptr, d.uuid.c_str());
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_URI, "printer-uri-supported", nullptr, uri.c_str());
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "uri-authentication-supported", nullptr, "none");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "uri-security-supported", nullptr, "none");
  add_keywords(p, "ipp-versions-supported", {"1.1", "2.0"});
  std::vector<int> ops;
  for (ipp_op_t op : ipp_operations_supported())
    ops.push_back(static_cast<int>(op));
  ippAddIntegers(p, IPP_TAG_PRINTER, IPP_TAG_ENUM, "operations-supported", static_cast<int>(ops.size()),
                 ops.data());
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_CHARSET, "charset-configured", nullptr, "utf-8");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_CHARSET, "charset-supported", nullptr, "utf-8");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_LANGUAGE, "natural-language-configured", nullptr, "en");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_LANGUAGE, "generated-natural-language-supported", nullptr, "en");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "pdl-override-supported", nullptr, "not-attempted");
  add_keywords(p, "compression-supported", {"none"});
  add_keywords(p, "which-jobs-supported", {"completed", "not-completed", "all"});
  add_keywords(p, "printer-get-attributes-supported", {"document-format"});
  ippAddBoolean(p, IPP_TAG_PRINTER, "multiple-document-jobs-supported", 0);
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "multiple-operation-time-out",
                d.multiple_operation_timeout_s);
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "multiple-operation-time-out-action", nullptr,
               "abort-job");
  ippAddRange(p, IPP_TAG_PRINTER, "job-k-octets-supported", 0, static_cast<int>(kMaxDocumentBytes / 1024));
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "pages-per-minute", kPagesPerMinute);
  if (caps.color)
    ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "pages-per-minute-color", kPagesPerMinute);
  ippAddBoolean(p, IPP_TAG_PRINTER, "color-supported", caps.color ? 1 : 0);
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-config-change-time", static_cast<int>(started));
  ippAddDate(p, IPP_TAG_PRINTER, "printer-config-change-date-time", ippTimeToDate(started));
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-state-change-time", static_cast<int>(started));
  ippAddDate(p, IPP_TAG_PRINTER, "printer-state-change-date-time", ippTimeToDate(started));

  // Document formats.
  std::vector<std::string> format_names = ipp_document_formats(caps);
  std::vector<const char *> formats;
  for (const std::string &f : format_names)
    formats.push_back(f.c_str());
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_MIMETYPE, "document-format-default", nullptr,
               "application/octet-stream");
  ippAddStrings(p, IPP_TAG_PRINTER, IPP_TAG_MIMETYPE, "document-format-supported",
                static_cast<int>(formats.size()), nullptr, formats.data());

  // Job template attributes: defaults and what is supported.
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "copies-default", 1);
  ippAddRange(p, IPP_TAG_PRINTER, "copies-supported", 1, kMaxIppCopies);
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_ENUM, "finishings-default", IPP_FINISHINGS_NONE);
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_ENUM, "finishings-supported", IPP_FINISHINGS_NONE);
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "job-sheets-default", nullptr, "none");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "job-sheets-supported", nullptr, "none");
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "number-up-default", 1);
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "number-up-supported", 1);
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_ENUM, "orientation-requested-default", IPP_ORIENT_PORTRAIT);
  const int orientations[] = {IPP_ORIENT_PORTRAIT, IPP_ORIENT_LANDSCAPE, IPP_ORIENT_REVERSE_LANDSCAPE,
                              IPP_ORIENT_REVERSE_PORTRAIT};
  ippAddIntegers(p, IPP_TAG_PRINTER, IPP_TAG_ENUM, "orientation-requested-supported", 4, orientations);
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "output-bin-default", nullptr, "face-down");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "output-bin-supported", nullptr, "face-down");
  ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_ENUM, "print-quality-default", IPP_QUALITY_NORMAL);
  const int qualities[] = {IPP_QUALITY_DRAFT, IPP_QUALITY_NORMAL, IPP_QUALITY_HIGH};
  ippAddIntegers(p, IPP_TAG_PRINTER, IPP_TAG_ENUM, "print-quality-supported", 3, qualities);
  ippAddResolution(p, IPP_TAG_PRINTER, "printer-resolution-default", IPP_RES_PER_INCH, 600, 600);
  add_resolutions(p, "printer-resolution-supported");
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "print-color-mode-default", nullptr,
               caps.color ? "color" : "monochrome");
  if (caps.color)
    add_keywords(p, "print-color-mode-supported", {"auto", "color", "monochrome"});
  else
    add_keywords(p, "print-color-mode-supported", {"auto", "monochrome"});
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "sides-default", nullptr, "one-sided");
  if (caps.duplex)
    add_keywords(p, "sides-supported", {"one-sided", "two-sided-long-edge", "two-sided-short-edge"});
  else
    add_keywords(p, "sides-supported", {"one-sided"});
  add_keywords(p, "job-creation-attributes-supported",
               {"copies", "finishings", "media", "media-col", "orientation-requested", "output-bin",
                "print-color-mode", "print-quality", "printer-resolution", "sides"});

  // Media.
  std::vector<const char *> names;
  for (const pwg_media_t *m : media)
    names.push_back(m->pwg);
  ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-default", nullptr, names.front());
  ippAddStrings(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-supported", static_cast<int>(names.size()),
                nullptr, names.data());
  ippAddStrings(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-ready", static_cast<int>(names.size()), nullptr,
                names.data());
  add_keywords(p, "media-col-supported",
               {"media-bottom-margin", "media-left-margin", "media-right-margin", "media-size",
                "media-size-name", "media-top-margin"});
  for (const char *name : {"media-bottom-margin-supported", "media-left-margin-supported",
                           "media-right-margin-supported", "media-top-margin-supported"})
    ippAddInteger(p, IPP_TAG_PRINTER, IPP_TAG_INTEGER, name, kMarginHundredthsMm);
  {
    ipp_t *col = ippNew();
    add_media_col(col, *media.front());
    ippAddCollection(p, IPP_TAG_PRINTER, "media-col-default", col);
    ippDelete(col);
  }
  for (const char *name : {"media-col-ready", "media-col-database"}) {
    Collections cols;
    for (const pwg_media_t *m : media)
      add_media_col(cols.add(), *m);
    ippAddCollections(p, IPP_TAG_PRINTER, name, cols.size(), cols.data());
  }
  {
    Collections sizes;
    for (const pwg_media_t *m : media) {
      ipp_t *size = sizes.add();
      ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", m->width);
      ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", m->length);
    }
    ippAddCollections(p, IPP_TAG_PRINTER, "media-size-supported", sizes.size(), sizes.data());
  }

  // Raster formats: what CUPS needs to render for us when an application gives it no PDF.
  add_resolutions(p, "pwg-raster-document-resolution-supported");
  if (caps.color)
    add_keywords(p, "pwg-raster-document-type-supported", {"black_1", "sgray_8", "srgb_8"});
  else
    add_keywords(p, "pwg-raster-document-type-supported", {"black_1", "sgray_8"});
  if (caps.duplex)
    ippAddString(p, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "pwg-raster-document-sheet-back", nullptr, "normal");
  std::vector<const char *> urf = {"V1.4", "CP1", "IS1", "MT1", "PQ3-4-5", "RS300-600", "W8"};
  if (caps.color) urf.push_back("SRGB24");
  if (caps.duplex) urf.push_back("DM1");
  add_keywords(p, "urf-supported", urf);
  return a;
}

void ipp_add_printer_state(ipp_t *a, int queued_jobs) {
  time_t now = time(nullptr);
  ippAddInteger(a, IPP_TAG_PRINTER, IPP_TAG_ENUM, "printer-state", IPP_PSTATE_IDLE);
  ippAddString(a, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "printer-state-reasons", nullptr, "none");
  ippAddString(a, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-state-message", nullptr, "Ready to hold jobs");
  ippAddBoolean(a, IPP_TAG_PRINTER, "printer-is-accepting-jobs", 1);
  // Absolute seconds, as CUPS reports them: time-at-* of jobs use the same clock.
  ippAddInteger(a, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-up-time", static_cast<int>(now));
  ippAddDate(a, IPP_TAG_PRINTER, "printer-current-time", ippTimeToDate(now));
  ippAddInteger(a, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "queued-job-count", queued_jobs);
}

void ipp_copy_requested(ipp_t *response, ipp_t *source, cups_array_t *requested, ipp_tag_t group) {
  for (ipp_attribute_t *attr = ippFirstAttribute(source); attr != nullptr; attr = ippNextAttribute(source)) {
    const char *name = ippGetName(attr);
    if (name == nullptr) continue;
    if (requested != nullptr && cupsArrayFind(requested, const_cast<char *>(name)) == nullptr) continue;
    ipp_attribute_t *copy = ippCopyAttribute(response, attr, 0);
    if (copy != nullptr) ippSetGroupTag(response, &copy, group);
  }
}

} // namespace lpm::agent
