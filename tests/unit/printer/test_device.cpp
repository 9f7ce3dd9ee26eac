// The file device: atomic delivery (.part, fsync, rename), extension mapping, aborts that leave
// nothing behind, and the start-up errors of open_device.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "device.h"
#include "lpm/files.h"
#include "lpm/ids.h"
#include "transport_support.h"

using namespace lpm;
using namespace lpm::printer;
using lpm::test::TempDir;

namespace {

proto::JobInfo job_with(std::string format) {
  proto::JobInfo job;
  job.id = uuid_v7();
  job.title = "report";
  job.format = std::move(format);
  return job;
}

std::span<const uint8_t> bytes_of(const std::string &s) {
  return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

size_t files_in(const std::string &dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto &entry : std::filesystem::directory_iterator(dir))
    n++;
  return n;
}

} // namespace

TEST_CASE("formats map to file name extensions", "[printer][device]") {
  CHECK(extension_for_format("application/pdf") == "pdf");
  CHECK(extension_for_format("application/postscript") == "ps");
  CHECK(extension_for_format("image/pwg-raster") == "pwg");
  CHECK(extension_for_format("image/urf") == "urf");
  CHECK(extension_for_format("text/plain") == "txt");
  CHECK(extension_for_format("text/plain; charset=utf-8") == "txt");
  CHECK(extension_for_format("Application/PDF") == "pdf");
  CHECK(extension_for_format("application/octet-stream") == "bin");
  CHECK(extension_for_format("image/jpeg") == "bin");
  CHECK(extension_for_format("") == "bin");
}

TEST_CASE("open_device refuses other schemes and malformed file URIs", "[printer][device]") {
  auto ipp = open_device("ipp://printer.example/ipp/print");
  REQUIRE_FALSE(ipp.ok());
  CHECK(ipp.error().message == "device scheme ipp is not supported yet");
  auto socket = open_device("socket://10.0.0.5:9100");
  REQUIRE_FALSE(socket.ok());
  CHECK(socket.error().message == "device scheme socket is not supported yet");
  CHECK_FALSE(open_device("").ok());
  CHECK_FALSE(open_device("/tmp/out").ok());
  CHECK_FALSE(open_device("file:relative/path").ok());
  CHECK_FALSE(open_device("file://host.example/srv").ok());
  CHECK_FALSE(open_device("file:///bad%2").ok());
  CHECK_FALSE(open_device("file:///bad%00nul").ok());
}

TEST_CASE("open_device creates the folder of a file device, decoding the URI path", "[printer][device]") {
  TempDir tmp;
  auto device = open_device("file://" + tmp.path + "/print%20out/");
  REQUIRE(device.ok());
  CHECK(std::filesystem::is_directory(tmp.path + "/print out"));
  auto localhost = open_device("file://localhost" + tmp.path + "/other");
  REQUIRE(localhost.ok());
  CHECK(std::filesystem::is_directory(tmp.path + "/other"));
}

TEST_CASE("the file device delivers a job atomically under <job-id>.<ext>", "[printer][device]") {
  TempDir tmp;
  auto device = open_device("file://" + tmp.path);
  REQUIRE(device.ok());
  proto::JobInfo job = job_with("application/pdf");
  auto sink = (*device)->open_job(job);
  REQUIRE(sink.ok());
  std::string part = tmp.path + "/" + job.id + ".part";
  std::string final_path = tmp.path + "/" + job.id + ".pdf";

  REQUIRE((*sink)->write(bytes_of("%PDF-1.7\n")).ok());
  REQUIRE((*sink)->write(bytes_of("rest of the document")).ok());
  // Until finish, only the .part file exists: nobody can pick up half a document.
  CHECK(file_exists(part));
  CHECK_FALSE(file_exists(final_path));

  REQUIRE((*sink)->finish().ok());
  CHECK_FALSE(file_exists(part));
  auto content = read_file(final_path, 1 << 20);
  REQUIRE(content.ok());
  CHECK(*content == "%PDF-1.7\nrest of the document");
  struct stat st {};
  REQUIRE(::stat(final_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // Ending twice is refused, and destroying a finished sink keeps the file.
  CHECK_FALSE((*sink)->finish().ok());
  sink.value().reset();
  CHECK(file_exists(final_path));
  CHECK(files_in(tmp.path) == 1);
}

TEST_CASE("an aborted or abandoned device job leaves no file", "[printer][device]") {
  TempDir tmp;
  auto device = open_device("file://" + tmp.path);
  REQUIRE(device.ok());

  auto aborted = (*device)->open_job(job_with("text/plain"));
  REQUIRE(aborted.ok());
  REQUIRE((*aborted)->write(bytes_of("half a job")).ok());
  (*aborted)->abort();
  (*aborted)->abort(); // harmless twice
  CHECK_FALSE((*aborted)->write(bytes_of("more")).ok());
  CHECK(files_in(tmp.path) == 0);

  {
    auto abandoned = (*device)->open_job(job_with("image/urf"));
    REQUIRE(abandoned.ok());
    REQUIRE((*abandoned)->write(bytes_of("never finished")).ok());
    CHECK(files_in(tmp.path) == 1);
  }
  CHECK(files_in(tmp.path) == 0);
}

TEST_CASE("the file device refuses a job id that is not a UUID", "[printer][device]") {
  TempDir tmp;
  auto device = open_device("file://" + tmp.path);
  REQUIRE(device.ok());
  proto::JobInfo job = job_with("application/pdf");
  job.id = "../../etc/passwd";
  auto sink = (*device)->open_job(job);
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().code == Errc::bad_request);
  CHECK(files_in(tmp.path) == 0);
}

TEST_CASE("a file device whose folder vanished fails the job, not the station", "[printer][device]") {
  TempDir tmp;
  std::string folder = tmp.path + "/out";
  auto device = open_device("file://" + folder);
  REQUIRE(device.ok());
  std::filesystem::remove_all(folder);
  auto sink = (*device)->open_job(job_with("application/pdf"));
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.error().code == Errc::io_error);
}
