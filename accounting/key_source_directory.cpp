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

// One fetch in progress: the op it pages through, where the next page starts, and what to do
// with each page's answer (keep its items, give the next cursor) and at the end.
struct Fetch {
  uint64_t seq = 0;
  const char *op = "";
  std::string cursor;
  std::function<Result<std::string>(const proto::Response &)> take_page;
  std::function<void()> succeed;
  std::function<void(Error)> fail;
};

// A fetch of one paged list whose result type is Page (items + next), at most max_items.
template <class Page, class Item>
Fetch paged_fetch(const char *op, std::string what, size_t max_items, std::string where,
                  std::function<void(Result<std::vector<Item>>)> done) {
  auto items = std::make_shared<std::vector<Item>>();
  auto shared_done = std::make_shared<std::function<void(Result<std::vector<Item>>)>>(std::move(done));
  Fetch f;
  f.op = op;
  f.take_page = [items, what, max_items, where](const proto::Response &answer) -> Result<std::string> {
    Page page;
    proto::MapReader reader = answer.reader();
    page.read(reader);
    if (!reader.ok())
      return make_error(Errc::protocol_error,
                        where + " sent a malformed " + what + " answer: " + reader.error().message);
    if (items->size() + page.items.size() > max_items)
      return make_error(Errc::too_large,
                        where + " lists more than " + std::to_string(max_items) + " " + what);
    for (auto &item : page.items)
      items->push_back(std::move(item));
    return page.next;
  };
  f.succeed = [items, shared_done] { (*shared_done)(std::move(*items)); };
  f.fail = [shared_done](Error e) { (*shared_done)(std::move(e)); };
  return f;
}

class DirectoryKeySource final : public KeySource, public std::enable_shared_from_this<DirectoryKeySource> {
public:
  DirectoryKeySource(uv_loop_t *loop, std::shared_ptr<proto::TlsContext> ctx,
                     DirectoryKeySourceOptions options)
      : loop_(loop), ctx_(std::move(ctx)),
        options_(std::move(options)), deadlines_{proto::LoopTimer(loop), proto::LoopTimer(loop)} {}
  ~DirectoryKeySource() override { close(); }

  void fetch(FetchFn done) override {
    start(kKeys, paged_fetch<proto::ListEnrolledResult, proto::EnrolledKey>(
                     proto::op::list_enrolled, "enrolled keys", options_.max_keys, where(), std::move(done)));
  }

  void fetch_people(PeopleFn done) override {
    start(kPeople, paged_fetch<proto::ListPeopleResult, proto::PersonFacts>(
                       proto::op::list_people, "people", options_.max_people, where(), std::move(done)));
  }

  void close() override {
    if (conn_ == Conn::closed) return;
    conn_ = Conn::closed;
    for (auto &d : deadlines_)
      d.close();
    if (peer_) {
      PeerPtr peer = std::move(peer_);
      peer->close();
    }
    for (int slot : {kKeys, kPeople})
      if (fetches_[slot]) finish(slot, make_error(Errc::unavailable, "shutting down"));
  }

private:
  // The connection's life: idle (none) -> connecting -> ready -> idle again when it drops;
  // closed is final.
  enum class Conn { idle, connecting, ready, closed };
  // The fetches that may run at once: one of each list.
  static constexpr int kKeys = 0;
  static constexpr int kPeople = 1;

  void start(int slot, Fetch fetch) {
    if (conn_ == Conn::closed)
      return fetch.fail(make_error(Errc::unavailable, "the directory key source is closed"));
    if (fetches_[slot])
      return fetch.fail(
          make_error(Errc::conflict, std::string("a ") + fetch.op + " fetch is already running"));
    fetches_[slot] = std::move(fetch);
    fetches_[slot]->seq = ++fetch_seq_;
    std::weak_ptr<DirectoryKeySource> weak = weak_from_this();
    deadlines_[slot].start(options_.fetch_timeout_ms, 0, [weak, slot] {
      if (auto self = weak.lock()) self->on_deadline(slot);
    });
    // A connection the directory closed may not have told us yet; start afresh rather than
    // send into it.
    if (conn_ == Conn::ready && (!peer_ || peer_->closed())) drop_connection(Error{Errc::ok, "stale"});
    switch (conn_) {
    case Conn::ready: request_page(slot); break;
    case Conn::idle: connect(); break;
    case Conn::connecting: break; // on_ready asks for the first page
    case Conn::closed: break;
    }
  }

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
    for (int slot : {kKeys, kPeople})
      if (fetches_[slot]) request_page(slot);
  }

  void on_peer_closed(Peer &p, const Error &reason) {
    if (&p != peer_.get()) return; // a connection we already let go of
    if (reason.code != Errc::ok) LPM_WARN("%s: %s", where().c_str(), reason.to_string().c_str());
    peer_.reset();
    if (conn_ != Conn::closed) conn_ = Conn::idle;
    for (int slot : {kKeys, kPeople})
      if (fetches_[slot])
        finish(slot, reason.code == Errc::ok
                         ? make_error(Errc::unavailable, where() + " closed the connection")
                         : make_error(reason.code, where() + ": " + reason.message));
  }

  // Forgets the current connection at once (its close callback is then ignored).
  void drop_connection(const Error &reason) {
    PeerPtr peer = std::move(peer_);
    if (conn_ != Conn::closed) conn_ = Conn::idle;
    if (peer) peer->close(reason);
  }

  void request_page(int slot) {
    Fetch &f = *fetches_[slot];
    proto::PageRequest page;
    page.after = f.cursor;
    page.limit = proto::kMaxPage;
    proto::MapWriter w;
    page.write(w); // list-enrolled's and list-people's requests are a page request
    std::weak_ptr<DirectoryKeySource> weak = weak_from_this();
    uint64_t seq = f.seq;
    peer_->call(f.op, w, [weak, slot, seq](Result<proto::Response> r) {
      if (auto self = weak.lock()) self->on_page(slot, seq, std::move(r));
    });
  }

  void on_page(int slot, uint64_t seq, Result<proto::Response> answer) {
    if (!fetches_[slot] || fetches_[slot]->seq != seq) return; // a fetch that already ended (timeout)
    Fetch &f = *fetches_[slot];
    if (!answer.ok()) {
      const Error &e = answer.error();
      if (e.code == Errc::unauthenticated || e.code == Errc::forbidden)
        LPM_ERROR("the %s refused %s (%s): is this server enrolled as kind accounting?", where().c_str(),
                  f.op, e.to_string().c_str());
      return finish(slot, make_error(e.code, where() + ": " + e.message));
    }
    auto next = f.take_page(*answer);
    if (!next.ok()) return finish(slot, next.error());
    if (next->empty()) return finish(slot, Error{Errc::ok, ""});
    // A cursor that does not move would page forever.
    if (*next == f.cursor)
      return finish(slot,
                    make_error(Errc::protocol_error, where() + ": " + f.op + " paging did not advance"));
    f.cursor = *next;
    request_page(slot);
  }

  void on_deadline(int slot) {
    if (!fetches_[slot]) return;
    Error e = make_error(Errc::timeout, where() + " did not answer " + fetches_[slot]->op + " within " +
                                            std::to_string(options_.fetch_timeout_ms) + " ms");
    // The connection may be stuck: the next fetch starts on a fresh one (the other fetch, if
    // any, fails with it).
    drop_connection(e);
    if (fetches_[slot]) finish(slot, e);
    int other = slot == kKeys ? kPeople : kKeys;
    if (fetches_[other]) finish(other, e);
  }

  // Ends the fetch in `slot`: with its items when `error` is ok.
  void finish(int slot, Error error) {
    deadlines_[slot].stop();
    Fetch f = std::move(*fetches_[slot]);
    fetches_[slot].reset();
    if (error.code == Errc::ok)
      f.succeed();
    else
      f.fail(std::move(error));
  }

  uv_loop_t *loop_;
  std::shared_ptr<proto::TlsContext> ctx_;
  DirectoryKeySourceOptions options_;
  proto::LoopTimer deadlines_[2]; // by slot
  Conn conn_ = Conn::idle;
  PeerPtr peer_;
  std::optional<Fetch> fetches_[2];
  uint64_t fetch_seq_ = 0;
};

} // namespace

std::shared_ptr<KeySource> make_directory_key_source(uv_loop_t *loop,
                                                     std::shared_ptr<proto::TlsContext> client_ctx,
                                                     DirectoryKeySourceOptions options) {
  return std::make_shared<DirectoryKeySource>(loop, std::move(client_ctx), std::move(options));
}

} // namespace lpm::accounting
