#include "device.h"

#include <cctype>

#include "device_file.h"
#include "device_ipp.h"
#include "device_socket.h"

namespace lpm::printer {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding of a URI path ("/srv/print%20out"); a NUL byte is refused.
Result<std::string> percent_decode(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size(); i++) {
    if (path[i] != '%') {
      out.push_back(path[i]);
      continue;
    }
    bool complete = i + 2 < path.size();
    int hi = complete ? hex_value(path[i + 1]) : -1;
    int lo = complete ? hex_value(path[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
      return make_error(Errc::bad_request, "bad percent-escape in device path \"" + std::string(path) + "\"");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

} // namespace

std::string base_format(std::string_view mime) {
  std::string base;
  for (char c : mime) {
    if (c == ';') break;
    if (c == ' ' || c == '\t') continue;
    base.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return base;
}

std::string extension_for_format(std::string_view mime) {
  // "text/plain; charset=utf-8" names the same format as "text/plain".
  std::string base = base_format(mime);
  if (base == "application/pdf") return "pdf";
  if (base == "application/postscript") return "ps";
  if (base == "image/pwg-raster") return "pwg";
  if (base == "image/urf") return "urf";
  if (base == "text/plain") return "txt";
  return "bin";
}

PrintSettings settings_of(const proto::JobInfo &job) {
  PrintSettings s;
  s.copies = job.copies == 0 ? 1 : job.copies;
  s.sides = job.sides.empty() ? "one-sided" : job.sides;
  s.color = job.color.empty() ? "color" : job.color;
  return s;
}

Result<std::unique_ptr<Device>> open_device(uv_loop_t *loop, std::string_view uri, const DeviceOptions &options) {
  auto colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return make_error(Errc::bad_request, "device \"" + std::string(uri) +
                                             "\" is not a URI (file:///DIR, socket://HOST:9100, ipp://HOST/PATH)");
  std::string scheme;
  for (char c : uri.substr(0, colon))
    scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (scheme == "socket") return open_socket_device(loop, std::string(uri), options);
  if (scheme == "ipp" || scheme == "ipps") return open_ipp_device(loop, std::string(uri), options);
  if (scheme != "file")
    return make_error(Errc::bad_request,
                      "device scheme " + scheme + " is not supported (file, socket, ipp, ipps)");
  // Only local paths: file:///DIR (an empty authority) or file://localhost/DIR.
  std::string_view rest = uri.substr(colon + 1);
  if (rest.substr(0, 2) != "//")
    return make_error(Errc::bad_request, "device \"" + std::string(uri) + "\" must be file:///DIR");
  rest.remove_prefix(2);
  if (rest.substr(0, 9) == "localhost") rest.remove_prefix(9);
  if (rest.empty() || rest.front() != '/')
    return make_error(Errc::bad_request,
                      "device \"" + std::string(uri) + "\" must name an absolute folder (file:///DIR)");
  auto folder_text = percent_decode(rest);
  if (!folder_text.ok()) return folder_text.error();
  std::string folder = std::move(*folder_text);
  while (folder.size() > 1 && folder.back() == '/')
    folder.pop_back();
  return open_file_device(loop, folder, std::string(uri));
}

} // namespace lpm::printer
