// Raw capture: a connection's bytes are one document, stored when the peer ends its side.
#include "raw_capture.h"

#include "identity_binding.h"
#include "ipp_document.h"
#include "ipp_peer_owner.h"
#include "lpm/log.h"

namespace lpm::agent {

namespace {

struct RawShared {
  std::shared_ptr<JobStore> store;
  RawCaptureOptions options;
};

class RawConnection final : public CaptureConnection {
public:
  RawConnection(uv_loop_t *loop, std::shared_ptr<RawShared> shared)
      : CaptureConnection(loop, shared->options.limits), shared_(std::move(shared)) {}

private:
  void on_open() override {
    auto uid = shared_->options.peer_uid ? shared_->options.peer_uid(ends()) : tcp_peer_uid(ends());
    if (!uid.ok()) {
      LPM_WARN("raw job from %s refused: cannot tell which OS account owns the connection: %s",
               peer_text().c_str(), uid.error().to_string().c_str());
      abort();
      return;
    }
    auto owner = job_owner_for_uid(*uid, shared_->options.bindings, shared_->options.logins.get());
    if (!owner.ok()) {
      LPM_WARN("raw job from %s refused: %s", peer_text().c_str(), owner.error().message.c_str());
      abort();
      return;
    }
    owner_ = *owner;
    NewJob job;
    job.user = owner_.user;
    job.os_account = owner_.account;
    job.title = kRawJobTitle;
    job.format = ""; // sniffed
    document_ = std::make_unique<CaptureDocument>(shared_->store, job, shared_->options.document_formats);
  }

  void on_data(std::span<const uint8_t> data) override {
    if (!document_) return;
    Status s = document_->write(data);
    if (!s.ok()) {
      LPM_WARN("raw job from %s (account %s) not stored: %s", peer_text().c_str(), owner_.account.c_str(),
               s.error().to_string().c_str());
      document_.reset();
      abort();
    }
  }

  void on_eof() override {
    if (document_) {
      auto job = document_->commit();
      document_.reset();
      if (job.ok()) {
        LPM_INFO("job %s held for %s (account %s, raw, %s, %llu bytes, %lld pages)", job->id.c_str(),
                 job->user.c_str(), job->os_account.c_str(), job->format.c_str(),
                 static_cast<unsigned long long>(job->size_bytes), static_cast<long long>(job->pages));
        if (shared_->options.on_stored) shared_->options.on_stored(*job);
      } else if (job.error().code == Errc::bad_request) {
        LPM_INFO("raw connection from %s (account %s) sent nothing; no job stored", peer_text().c_str(),
                 owner_.account.c_str());
      } else {
        LPM_WARN("raw job from %s (account %s) not stored: %s", peer_text().c_str(), owner_.account.c_str(),
                 job.error().to_string().c_str());
      }
    }
    close_gracefully();
  }

  void on_closed(const std::string &reason) override {
    if (document_)
      LPM_WARN("raw job from %s (account %s) discarded: the connection ended before the document did (%s)",
               peer_text().c_str(), owner_.account.c_str(), reason.empty() ? "closed" : reason.c_str());
    document_.reset();
  }

  std::shared_ptr<RawShared> shared_;
  JobOwner owner_;
  std::unique_ptr<CaptureDocument> document_;
};

} // namespace

Result<std::unique_ptr<RawCapture>> RawCapture::start(uv_loop_t *loop, std::shared_ptr<JobStore> store,
                                                      RawCaptureOptions options) {
  auto shared = std::make_shared<RawShared>(RawShared{std::move(store), std::move(options)});
  auto listener = CaptureListener::start(loop, shared->options.listen, "RawListen", shared->options.limits,
                                         [shared](uv_loop_t *l) -> std::shared_ptr<CaptureConnection> {
                                           return std::make_shared<RawConnection>(l, shared);
                                         });
  if (!listener.ok()) return listener.error();
  std::unique_ptr<RawCapture> self(new RawCapture());
  self->listener_ = std::move(*listener);
  LPM_INFO("raw capture listener on %s:%u", shared->options.listen.host.c_str(),
           static_cast<unsigned>(self->listener_->port()));
  return self;
}

RawCapture::~RawCapture() {
  stop();
}

uint16_t RawCapture::port() const {
  return listener_ ? listener_->port() : 0;
}

void RawCapture::stop() {
  if (listener_) listener_->stop();
}

} // namespace lpm::agent
