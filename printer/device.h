// Print devices: where a released document goes. A device job takes the document chunk by chunk
// (never the whole document in memory, with backpressure when the device is slower than the
// network), then either finishes (the device has taken the job and, when it can, says what it
// printed) or aborts (nothing of it may remain). Everything is called on the station's loop;
// a device that blocks (libcups) does its work on threads of its own.
//
// Devices are named by URI:
//   file:///DIR                     each job becomes DIR/<job-id>.<ext> (device_file.cpp)
//   socket://HOST[:9100]            AppSocket / JetDirect: the raw document over TCP (device_socket.cpp)
//   ipp://HOST[:631]/PATH, ipps://  IPP Print-Job through libcups, counts read back (device_ipp.cpp)
// Only IPP devices apply job settings (copies, sides, color mode); the others send the document
// as it is and say so.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"

namespace lpm::printer {

// What the device is asked to do with a job: the job's own settings, or the late-binding
// choices made at the station when the job allows them.
struct PrintSettings {
  uint64_t copies = 1;
  std::string sides = "one-sided"; // one-sided | two-sided-long-edge | two-sided-short-edge
  std::string color = "color";     // color | monochrome | auto
};

// The job's settings as submitted.
PrintSettings settings_of(const proto::JobInfo &job);

// What a device reported about a finished job; -1: not reported.
struct DeviceCounts {
  int64_t impressions = -1;
  int64_t sheets = -1;
  int64_t pages = -1;
  int64_t color_impressions = -1;
  bool reported() const { return impressions > 0 || sheets > 0 || pages > 0; }
  std::string note; // what the device did differently from what was asked ("" when nothing)
};

using CountsFn = std::function<void(Result<DeviceCounts>)>;

// One job on its way to the device. Exactly one of finish() or abort() ends it; destroying an
// unfinished job aborts it.
class DeviceJob {
public:
  virtual ~DeviceJob() = default;
  // Takes (a copy of) the next bytes of the document. An error: the device failed the job.
  virtual Status write(std::span<const uint8_t> data) = 0;
  // True while more is waiting for the device than it should hold: stop feeding it until the
  // function given to on_drained runs (once, on the loop).
  virtual bool backlogged() const { return false; }
  virtual void on_drained(std::function<void()> fn) { (void)fn; }
  // The whole document was written: completes the job at the device. `done` runs once on the
  // loop: the counts the device reported (DeviceCounts::reported() false when it reports none),
  // or why the job failed there.
  virtual void finish(CountsFn done) = 0;
  // Drops whatever was written; safe to call more than once and after finish() failed.
  virtual void abort() = 0;
};

using DeviceJobPtr = std::unique_ptr<DeviceJob>;

class Device {
public:
  virtual ~Device() = default;
  // Starts a job: `ready` runs once on the loop (possibly before open_job returns) with the job
  // ready for bytes, or why the device refuses it (a format or setting it does not support, with
  // the reason; unreachable).
  virtual void open_job(const proto::JobInfo &job, const PrintSettings &settings,
                        std::function<void(Result<DeviceJobPtr>)> ready) = 0;
  // Whether the device applies PrintSettings; when false, documents go as they are.
  virtual bool applies_settings() const = 0;
  // The URI the device was opened with, for messages.
  virtual const std::string &uri() const = 0;
  // Stops background work; `done` runs once nothing of the device remains on the loop.
  virtual void close(std::function<void()> done) { done(); }
};

struct DeviceOptions {
  uint32_t connect_timeout_ms = 5000;   // reaching the device
  uint32_t complete_timeout_ms = 20000; // IPP: from the last byte to the job's final state
  size_t buffer_bytes = 1 << 20;        // bytes a job may hold before it is backlogged
};

// Opens the device a URI names; checks what can be checked at start-up (the folder of a file
// device is created if missing and must be writable; an IPP device's attributes are read when
// it answers). An unknown scheme gives "device scheme X is not supported (file, socket, ipp,
// ipps)".
Result<std::unique_ptr<Device>> open_device(uv_loop_t *loop, std::string_view uri, const DeviceOptions &options = {});

// File name extension for a document format (MIME type, parameters ignored): pdf, ps, pwg, urf,
// txt, else bin.
std::string extension_for_format(std::string_view mime);

// The MIME type without parameters, lower case ("text/plain; charset=utf-8" -> "text/plain").
std::string base_format(std::string_view mime);

} // namespace lpm::printer
