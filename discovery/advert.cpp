#include "lpm/discovery/advert.h"

#include <algorithm>
#include <set>

namespace lpm::discovery {

namespace {

constexpr size_t kMaxIdBytes = 64;

bool plain_token(const std::string &text) {
  return !text.empty() && text.size() <= kMaxIdBytes && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool hex64(const std::string &text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void put(std::vector<uint8_t> &out, const std::string &item) {
  out.push_back(static_cast<uint8_t>(item.size()));
  out.insert(out.end(), item.begin(), item.end());
}

Error bad(const std::string &why) {
  return make_error(Errc::bad_request, "TXT record: " + why);
}

} // namespace

std::vector<uint8_t> encode_txt(const ReleaseAdvert &a) {
  std::vector<uint8_t> out;
  put(out, "v=" + std::to_string(a.version));
  put(out, "id=" + a.workstation_id);
  put(out, "fp=" + a.fingerprint);
  return out;
}

Result<ReleaseAdvert> decode_txt(const uint8_t *data, size_t size) {
  if (size > kMaxTxtBytes) return bad("longer than " + std::to_string(kMaxTxtBytes) + " bytes");
  ReleaseAdvert out;
  std::set<std::string> seen;
  size_t at = 0;
  while (at < size) {
    size_t length = data[at++];
    if (length > size - at) return bad("a string runs past the end of the record");
    std::string item(reinterpret_cast<const char *>(data + at), length);
    at += length;
    if (item.empty()) continue; // RFC 6763 §6.1: an empty record is one zero-length string
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (key != "v" && key != "id" && key != "fp") continue;
    if (!seen.insert(key).second) return bad("\"" + key + "\" appears twice");
    if (eq == std::string::npos) return bad("\"" + key + "\" has no value");
    std::string value = item.substr(eq + 1);
    if (key == "v") {
      if (value != std::to_string(kTxtVersion))
        return bad("protocol version \"" + value + "\" is not spoken here");
      out.version = kTxtVersion;
    } else if (key == "id") {
      if (!plain_token(value)) return bad("the workstation id is not a plain token");
      out.workstation_id = value;
    } else {
      if (!hex64(value)) return bad("the fingerprint is not 64 lower-case hexadecimal digits");
      out.fingerprint = value;
    }
  }
  for (const char *key : {"v", "id", "fp"})
    if (!seen.count(key)) return bad(std::string("\"") + key + "\" is missing");
  return out;
}

std::string instance_name(const std::string &workstation_id) {
  std::string compact;
  for (char c : workstation_id)
    if (c != '-') compact += c;
  return "lpm-" + compact.substr(0, 59); // an instance name holds at most 63 bytes
}

} // namespace lpm::discovery
