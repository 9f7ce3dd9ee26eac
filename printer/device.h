// Print devices: where a released document goes. The station streams each document into a
// DeviceSink chunk by chunk (never the whole document in memory) and then either finishes it
// (the device has taken the job) or aborts it (nothing of it may remain).
//
// Devices are named by URI. Supported now: file:///DIR (each job becomes DIR/<job-id>.<ext>).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"

namespace lpm::printer {

// One job on its way to the device. Exactly one of finish() or abort() ends it; destroying an
// unfinished sink aborts it.
class DeviceSink {
public:
  virtual ~DeviceSink() = default;
  virtual Status write(std::span<const uint8_t> data) = 0;
  // The whole document has been written: make it the device's (durably, for a file).
  virtual Status finish() = 0;
  // Drops whatever was written; safe to call more than once.
  virtual void abort() = 0;
};

class Device {
public:
  virtual ~Device() = default;
  // Starts a job described by the workstation's job facts (id, title, format, copies, ...).
  virtual Result<std::unique_ptr<DeviceSink>> open_job(const proto::JobInfo &job) = 0;
  // The URI the device was opened with, for messages.
  virtual const std::string &uri() const = 0;
};

// Opens the device a URI names; checks what can be checked at start-up (the folder of a file
// device is created if missing and must be writable). An unknown scheme gives
// "device scheme X is not supported yet".
Result<std::unique_ptr<Device>> open_device(std::string_view uri);

// File name extension for a document format (MIME type, parameters ignored): pdf, ps, pwg, urf,
// txt, else bin.
std::string extension_for_format(std::string_view mime);

} // namespace lpm::printer
