// The directory as the source of enrolled keys: list-enrolled, page after page, over one
// persistent pinned TLS connection.
#include <optional>

#include "key_source.h"
#include "lpm/protocol/loop_timer.h"
#include "lpm/log.h"
#include "lpm/protocol/rpc.h"

namespace lpm::accounting {
namespace {

using proto::Peer;
using proto::PeerPtr;

// One fetch in progress: pages gathered so far and where the next one starts.
struct Fetch {
  uint64_t seq = 0;
  KeySource::FetchFn done;
  std::vector<proto::EnrolledKey> keys;
  std::string cursor;
};

class DirectoryKeySource final : public KeySource, public std::enable_shared_from_this<DirectoryKeySource> {
public:
  DirectoryKeySource(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> ctx,
                     DirectoryKeySourceOptions options)
      : loop_(loop), ctx_(std::move(ctx)), options_(std::move(options)), deadline_(loop) {}
  ~DirectoryKeySource() override { close(); }

  void fetch(FetchFn done) override {
    if (conn_ == Conn::closed)
      return done(make_error(Errc::unavailable, "the directory key source is closed"));
    if (fetch_) return done(make_error(Errc::conflict, "a fetch of enrolled keys is already running"));
    fetch_.emplace();
    fetch_->seq = ++fetch_seq_;
    fetch_->done = std::move(done);
    std::weak_ptr<DirectoryKeySource> weak = weak_from_this();
    deadline_.start(options_.fetch_timeout_ms, 0, [weak] {
      if (auto self = weak.lock()) self->on_deadline();
    });
    // A connection the directory closed may not have told us yet; start afresh rather than
    // send into it.
    if (conn_ == Conn::ready && (!peer_ || peer_->closed())) drop_connection(Error{Errc::ok, "stale"});
    switch (conn_) {
    case Conn::ready: request_page(); break;
    case Conn::idle: connect(); break;
    case Conn::connecting: break; // on_ready asks for the first page
    case Conn::closed: break;
    }
  }

  void close() override {
    if (conn_ == Conn::closed) return;
    conn_ = Conn::closed;
    deadline_.close();
    if (peer_) {
      PeerPtr peer = std::move(peer_);
      peer->close();
    }
    if (fetch_) finish(make_error(Errc::unavailable, "shutting down"));
  }

private:
  // The connection's life: idle (none) -> connecting -> ready -> idle again when it drops;
  // closed is final.
  enum class Conn { idle, connecting, ready, closed };

  std::string where() const { return "directory " + options_.directory.to_string(); }

  void connect() {
    conn_ = Conn::connecting;
    proto::ConnectOptions co;
    co.pins = {options_.directory_fingerprint};
    co.limits.idle_timeout_ms = options_.idle_timeout_ms;
    proto::StreamPtr stream = proto::tls_connect(loop_, ctx_, options_.directory, co, {});
    proto::PeerOptions po;
    po.role = proto::role::accounting;
    po.accept_roles = {proto::role::directory};
    std::weak_ptr<DirectoryKeySource> weak = weak_from_this();
    po.on_ready = [weak](Peer &p) {
      if (auto self = weak.lock()) self->on_ready(p);
    };
    po.on_close = [weak](Peer &p, const Error &reason) {
      if (auto self = weak.lock()) self->on_peer_closed(p, reason);
    };
    peer_ = Peer::attach(stream, std::move(po));
  }

  void on_ready(Peer &p) {
    if (p.closed() || &p != peer_.get()) return;
    conn_ = Conn::ready;
    LPM_INFO("connected to the %s", where().c_str());
    if (fetch_) request_page();
  }

  void on_peer_closed(Peer &p, const Error &reason) {
    if (&p != peer_.get()) return; // a connection we already let go of
    if (reason.code != Errc::ok) LPM_WARN("%s: %s", where().c_str(), reason.to_string().c_str());
    peer_.reset();
    if (conn_ != Conn::closed) conn_ = Conn::idle;
    if (fetch_)
      finish(reason.code == Errc::ok ? make_error(Errc::unavailable, where() + " closed the connection")
                                     : make_error(reason.code, where() + ": " + reason.message));
  }

  // Forgets the current connection at once (its close callback is then ignored).
  void drop_connection(const Error &reason) {
    PeerPtr peer = std::move(peer_);
    if (conn_ != Conn::closed) conn_ = Conn::idle;
    if (peer) peer->close(reason);
  }

  void request_page() {
    proto::ListEnrolledRequest req;
    req.page.after = fetch_->cursor;
    req.page.limit = proto::kMaxPage;
    proto::MapWriter w;
    req.write(w);
    std::weak_ptr<DirectoryKeySource> weak = weak_from_this();
    uint64_t seq = fetch_->seq;
    peer_->call(proto::op::list_enrolled, w, [weak, seq](Result<proto::Response> r) {
      if (auto self = weak.lock()) self->on_page(seq, std::move(r));
    });
  }

  void on_page(uint64_t seq, Result<proto::Response> answer) {
    if (!fetch_ || fetch_->seq != seq) return; // a fetch that already ended (timeout)
    if (!answer.ok()) {
      const Error &e = answer.error();
      if (e.code == Errc::unauthenticated || e.code == Errc::forbidden)
        LPM_ERROR("the %s refused list-enrolled (%s): is this server enrolled as kind accounting?",
                  where().c_str(), e.to_string().c_str());
      return finish(make_error(e.code, where() + ": " + e.message));
    }
    proto::ListEnrolledResult page;
    proto::MapReader reader = answer->reader();
    page.read(reader);
    if (!reader.ok())
      return finish(make_error(Errc::protocol_error, where() + " sent a malformed list-enrolled answer: " +
                                                         reader.error().message));
    if (fetch_->keys.size() + page.items.size() > options_.max_keys)
      return finish(make_error(Errc::too_large, where() + " lists more than " +
                                                    std::to_string(options_.max_keys) + " enrolled keys"));
    for (auto &k : page.items)
      fetch_->keys.push_back(std::move(k));
    if (page.next.empty()) {
      auto keys = std::move(fetch_->keys);
      return finish(std::move(keys));
    }
    // A cursor that does not move would page forever.
    if (page.next == fetch_->cursor)
      return finish(make_error(Errc::protocol_error, where() + ": list-enrolled paging did not advance"));
    fetch_->cursor = page.next;
    request_page();
  }

  void on_deadline() {
    if (!fetch_) return;
    Error e = make_error(Errc::timeout, where() + " did not list the enrolled keys within " +
                                            std::to_string(options_.fetch_timeout_ms) + " ms");
    // The connection may be stuck: the next fetch starts on a fresh one.
    drop_connection(e);
    finish(e);
  }

  void finish(Result<std::vector<proto::EnrolledKey>> result) {
    deadline_.stop();
    FetchFn done = std::move(fetch_->done);
    fetch_.reset();
    done(std::move(result));
  }

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> ctx_;
  DirectoryKeySourceOptions options_;
  proto::LoopTimer deadline_;
  Conn conn_ = Conn::idle;
  PeerPtr peer_;
  std::optional<Fetch> fetch_;
  uint64_t fetch_seq_ = 0;
};

} // namespace

std::shared_ptr<KeySource> make_directory_key_source(uv_loop_t *loop,
                                                     std::shared_ptr<proto::TlsContext> client_ctx,
                                                     DirectoryKeySourceOptions options) {
  return std::make_shared<DirectoryKeySource>(loop, std::move(client_ctx), std::move(options));
}

} // namespace lpm::accounting
