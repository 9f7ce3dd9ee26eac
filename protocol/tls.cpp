// TLS on libuv with mbedTLS 2.28 (TLS 1.2). The socket side is SocketStream; here mbedTLS reads
// ciphertext from an input buffer the socket fills and writes ciphertext through raw_write.
//
// Write path: user plaintext waits in `plain_out_`; pump() feeds it to mbedtls_ssl_write. When the
// socket queue is over high water the BIO send callback answers WANT_WRITE and mbedTLS keeps
// the record it built; the next call must pass the same buffer and length, so `retry_len_`
// remembers it and the front buffer is never touched until that call succeeds.
// Read path: ciphertext is decrypted until mbedTLS wants more; when the user pauses, decrypted
// records may stay buffered inside mbedTLS, and resume drains them without new socket input.
#include <mbedtls/ecdsa.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>

#include <deque>
#include <cstring>
#include <map>
#include <mutex>

#include "detail/socket_stream.h"
#include "lpm/ids.h"
#include "lpm/log.h"

namespace lpm::proto {
namespace {

int rng(void *, unsigned char *out, size_t len) {
  random_bytes(out, len);
  return 0;
}

std::string tls_error_text(int rc) {
  char buf[200];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

// Preferred first: ChaCha20-Poly1305 is the fastest AEAD here without AES-NI-friendly GCM.
const int kCiphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    0,
};
// The library's default list negotiates P-521, which is slow: only X25519 and P-256.
const mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_NONE};
const int kSigHashes[] = {MBEDTLS_MD_SHA256, MBEDTLS_MD_NONE};

class TlsContextImpl final : public TlsContext {
public:
  explicit TlsContextImpl(Side side) : side_(side) {
    mbedtls_ssl_config_init(&conf_);
    mbedtls_ssl_ticket_init(&tickets_);
    mbedtls_pk_init(&signer_);
  }
  ~TlsContextImpl() override {
    for (auto &[key, session] : sessions_) {
      mbedtls_ssl_session_free(session.get());
    }
    mbedtls_ssl_ticket_free(&tickets_);
    mbedtls_ssl_config_free(&conf_);
    mbedtls_pk_free(&signer_); // zeroes the private key
  }

  Status init(std::shared_ptr<Identity> identity) {
    identity_ = std::move(identity);
    int endpoint = side_ == Side::server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT;
    int rc = mbedtls_ssl_config_defaults(&conf_, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) return make_error(Errc::internal, "TLS config: " + tls_error_text(rc));
    mbedtls_ssl_conf_rng(&conf_, rng, nullptr);
    mbedtls_ssl_conf_min_version(&conf_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&conf_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&conf_, kCiphersuites);
    mbedtls_ssl_conf_curves(&conf_, kCurves);
    mbedtls_ssl_conf_sig_hashes(&conf_, kSigHashes);
    mbedtls_ssl_conf_renegotiation(&conf_, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    // Peers are self-signed and pinned by key, not chained to a CA: the chain check is
    // optional and the pin (client) or the enrolled key (server) decides.
    mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_OPTIONAL);
    if (identity_) {
      // Handshakes sign with a copy of the key typed ECDSA: mbedtls_pk_sign on the parsed
      // (ECKEY) key copies it into a fresh context per signature and so rebuilds the table for G
      // each time; on an ECDSA context the table is built at the first signature and kept (about
      // half the CPU of each handshake signature). Only this context's loop thread signs with it.
      rc = mbedtls_pk_setup(&signer_, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA));
      if (rc == 0) rc = mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(signer_), mbedtls_pk_ec(*identity_->key().pk()));
      if (rc != 0) return make_error(Errc::internal, "TLS signing key: " + tls_error_text(rc));
      rc = mbedtls_ssl_conf_own_cert(&conf_, identity_->cert(), &signer_);
      if (rc != 0) return make_error(Errc::internal, "TLS own certificate: " + tls_error_text(rc));
    }
    if (side_ == Side::server) {
      if (!identity_) return make_error(Errc::internal, "a TLS server needs an identity");
      // Stateless session tickets (RFC 5077), keys rotated by mbedTLS every lifetime.
      rc = mbedtls_ssl_ticket_setup(&tickets_, rng, nullptr, MBEDTLS_CIPHER_AES_256_GCM, 12 * 3600);
      if (rc != 0) return make_error(Errc::internal, "TLS tickets: " + tls_error_text(rc));
      mbedtls_ssl_conf_session_tickets_cb(&conf_, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &tickets_);
    } else {
      mbedtls_ssl_conf_session_tickets(&conf_, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    }
    return {};
  }

  Side side() const override { return side_; }
  uint64_t handshakes() const override { return handshakes_; }
  uint64_t resumed_handshakes() const override { return resumed_; }
  void clear_sessions() override {
    for (auto &[key, session] : sessions_) mbedtls_ssl_session_free(session.get());
    sessions_.clear();
  }

  const mbedtls_ssl_config *conf() const { return &conf_; }

  // Client session cache, keyed by endpoint and pinned key set.
  void save_session(const std::string &key, mbedtls_ssl_context *ssl) {
    auto session = std::make_unique<mbedtls_ssl_session>();
    mbedtls_ssl_session_init(session.get());
    if (mbedtls_ssl_get_session(ssl, session.get()) != 0) {
      mbedtls_ssl_session_free(session.get());
      return;
    }
    auto it = sessions_.find(key);
    if (it != sessions_.end()) mbedtls_ssl_session_free(it->second.get());
    sessions_[key] = std::move(session);
  }
  void load_session(const std::string &key, mbedtls_ssl_context *ssl) {
    auto it = sessions_.find(key);
    if (it != sessions_.end()) mbedtls_ssl_set_session(ssl, it->second.get());
  }
  void count_handshake(bool resumed) {
    handshakes_++;
    if (resumed) resumed_++;
  }

private:
  Side side_;
  mbedtls_ssl_config conf_;
  mbedtls_ssl_ticket_context tickets_;
  mbedtls_pk_context signer_; // the identity key as an ECDSA context (init())
  std::shared_ptr<Identity> identity_;
  std::map<std::string, std::unique_ptr<mbedtls_ssl_session>> sessions_;
  uint64_t handshakes_ = 0;
  uint64_t resumed_ = 0;
};

class TlsStream final : public detail::SocketStream {
public:
  TlsStream(uv_loop_t *loop, std::shared_ptr<TlsContextImpl> ctx, const StreamLimits &limits)
      : SocketStream(loop, Kind::tcp, limits), ctx_(std::move(ctx)) {
    mbedtls_ssl_init(&ssl_);
  }
  ~TlsStream() override { mbedtls_ssl_free(&ssl_); }

  Status setup(std::vector<Fingerprint> pins, std::string session_key) {
    pins_ = std::move(pins);
    session_key_ = std::move(session_key);
    int rc = mbedtls_ssl_setup(&ssl_, ctx_->conf());
    if (rc != 0) return make_error(Errc::internal, "TLS setup: " + tls_error_text(rc));
    mbedtls_ssl_set_bio(&ssl_, this, bio_send, bio_recv, nullptr);
    // Called for each certificate the peer sends: on a resumed session none is sent, which is
    // how a resumption is recognised. The chain flags are cleared: trust comes from the pin.
    mbedtls_ssl_set_verify(&ssl_, on_verify, this);
    if (ctx_->side() == TlsContext::Side::client && !session_key_.empty()) ctx_->load_session(session_key_, &ssl_);
    return {};
  }

  void write(std::span<const uint8_t> data) override {
    if (closing_ || data.empty()) return;
    // Small writes join the last buffer, unless that buffer is the one a blocked write must
    // retry with.
    bool back_is_retrying = plain_out_.size() == 1 && retry_len_ > 0;
    if (!plain_out_.empty() && !back_is_retrying && plain_out_.back().size() + data.size() <= 16384) {
      plain_out_.back().insert(plain_out_.back().end(), data.begin(), data.end());
    } else {
      plain_out_.emplace_back(data.begin(), data.end());
    }
    plain_queued_ += data.size();
    pump();
    // After pump(): records add their header and tag to what is queued, so a write that left
    // the plaintext just under high water can leave the queue above it. The drain promise
    // follows what queued_bytes() reports, so it is checked here and not before.
    note_queued();
  }

  size_t queued_bytes() const override { return plain_queued_ + raw_queued_; }
  bool resumed() const override { return resumed_; }
  std::string cipher() const override {
    const char *name = mbedtls_ssl_get_ciphersuite(&ssl_); // null until a session is established
    return name ? name : "";
  }

protected:
  void on_transport_ready() override { handshake(); }

  void on_raw_data(std::span<const uint8_t> data) override {
    if (cipher_in_off_ == cipher_in_.size()) {
      cipher_in_.clear();
      cipher_in_off_ = 0;
    }
    cipher_in_.insert(cipher_in_.end(), data.begin(), data.end());
    if (state_ == State::handshaking)
      handshake();
    else
      read_plaintext();
  }

  void on_raw_drained() override { pump(); }
  void on_resumed() override {
    if (state_ == State::open) read_plaintext();
  }
  void begin_graceful_close() override {
    close_after_flush_ = true;
    pump();
  }

private:
  static int bio_send(void *p, const unsigned char *buf, size_t len) {
    auto *self = static_cast<TlsStream *>(p);
    if (self->closing_hard_) return MBEDTLS_ERR_NET_CONN_RESET;
    // Socket queue full: tell mbedTLS to keep the record and ask again later.
    if (self->raw_queued_ >= self->limits_.high_water_bytes) return MBEDTLS_ERR_SSL_WANT_WRITE;
    self->raw_write(buf, len);
    return static_cast<int>(len);
  }

  static int bio_recv(void *p, unsigned char *buf, size_t len) {
    auto *self = static_cast<TlsStream *>(p);
    size_t avail = self->cipher_in_.size() - self->cipher_in_off_;
    if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = std::min(avail, len);
    std::memcpy(buf, self->cipher_in_.data() + self->cipher_in_off_, n);
    self->cipher_in_off_ += n;
    return static_cast<int>(n);
  }

  static int on_verify(void *p, mbedtls_x509_crt *, int, uint32_t *flags) {
    auto *self = static_cast<TlsStream *>(p);
    self->saw_certificate_ = true;
    *flags = 0;
    return 0;
  }

  void handshake() {
    int rc = mbedtls_ssl_handshake(&ssl_);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return;
    if (rc != 0) {
      abort_with(make_error(Errc::unavailable, "TLS handshake with " + peer_.address + ": " + tls_error_text(rc)));
      return;
    }
    const mbedtls_x509_crt *cert = mbedtls_ssl_get_peer_cert(&ssl_);
    if (cert) peer_.fingerprint = fingerprint_of_cert(cert);
    resumed_ = !saw_certificate_ && cert != nullptr;
    if (ctx_->side() == TlsContext::Side::client) {
      if (!pins_.empty()) {
        bool match = false;
        for (const auto &pin : pins_) match = match || pin == peer_.fingerprint;
        if (!match) {
          abort_with(make_error(Errc::unauthenticated, "the key of " + peer_.address + " (" +
                                                           (peer_.fingerprint.empty() ? "none" : peer_.fingerprint) +
                                                           ") is not the pinned one"));
          return;
        }
      }
      ctx_->count_handshake(resumed_);
      if (!session_key_.empty()) ctx_->save_session(session_key_, &ssl_);
    }
    mark_open();
    if (closing_) return;
    pump();
    read_plaintext();
  }

  void pump() {
    if (state_ != State::open || closing_hard_) return;
    while (!plain_out_.empty()) {
      auto &front = plain_out_.front();
      size_t len = retry_len_ ? retry_len_ : front.size() - front_off_;
      int rc = mbedtls_ssl_write(&ssl_, front.data() + front_off_, len);
      if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) {
        retry_len_ = len;
        return;
      }
      if (rc < 0) {
        abort_with(make_error(Errc::io_error, "TLS write to " + peer_.address + ": " + tls_error_text(rc)));
        return;
      }
      retry_len_ = 0;
      front_off_ += static_cast<size_t>(rc);
      plain_queued_ -= static_cast<size_t>(rc);
      if (front_off_ == front.size()) {
        plain_out_.pop_front();
        front_off_ = 0;
      }
    }
    if (close_after_flush_ && !sent_close_notify_) {
      // With the socket queue full the alert waits inside mbedTLS; the next drain retries.
      if (mbedtls_ssl_close_notify(&ssl_) == MBEDTLS_ERR_SSL_WANT_WRITE) return;
      sent_close_notify_ = true;
      if (queued_bytes() == 0) finish_graceful_close();
    }
  }

  void read_plaintext() {
    // Bounded: stops when mbedTLS needs more ciphertext, or the user pauses or closes.
    while (state_ == State::open && !closing_hard_ && !user_paused_) {
      int rc = mbedtls_ssl_read(&ssl_, plain_in_, sizeof plain_in_);
      if (rc > 0) {
        deliver(std::span<const uint8_t>(plain_in_, static_cast<size_t>(rc)));
        continue;
      }
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return;
      if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        abort_with(make_error(Errc::ok, "peer closed the connection"));
        return;
      }
      abort_with(make_error(Errc::protocol_error, "TLS read from " + peer_.address + ": " + tls_error_text(rc)));
      return;
    }
  }

  std::shared_ptr<TlsContextImpl> ctx_;
  mbedtls_ssl_context ssl_;
  std::vector<Fingerprint> pins_;
  std::string session_key_;
  std::deque<std::vector<uint8_t>> plain_out_;
  size_t front_off_ = 0;
  size_t retry_len_ = 0;
  size_t plain_queued_ = 0;
  std::vector<uint8_t> cipher_in_;
  size_t cipher_in_off_ = 0;
  uint8_t plain_in_[16384];
  bool saw_certificate_ = false;
  bool resumed_ = false;
  bool close_after_flush_ = false;
  bool sent_close_notify_ = false;
};

} // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(Side side, std::shared_ptr<Identity> identity) {
  auto ctx = std::make_shared<TlsContextImpl>(side);
  Status s = ctx->init(std::move(identity));
  if (!s.ok()) return s.error();
  return std::shared_ptr<TlsContext>(ctx);
}

StreamPtr tls_connect(uv_loop_t *loop, std::shared_ptr<TlsContext> ctx, const Endpoint &to,
                      const ConnectOptions &options, Stream::Handlers handlers) {
  auto impl = std::static_pointer_cast<TlsContextImpl>(ctx);
  auto s = std::make_shared<TlsStream>(loop, impl, options.limits);
  s->adopt_self(s);
  s->set_handlers(std::move(handlers));
  std::string key = to.to_string();
  for (const auto &pin : options.pins) key += "|" + pin;
  Status st = s->setup(options.pins, key);
  if (!st.ok()) {
    s->abort_with(st.error());
    return s;
  }
  auto addr = detail::resolve_literal(to);
  if (!addr.ok()) {
    s->abort_with(addr.error());
    return s;
  }
  if (options.source.empty()) {
    s->connect_tcp(*addr);
    return s;
  }
  auto source = detail::resolve_literal(Endpoint{options.source, 0});
  if (!source.ok()) {
    s->abort_with(source.error());
    return s;
  }
  s->connect_tcp(*addr, &*source);
  return s;
}

Result<std::shared_ptr<Listener>> Listener::listen_tls(uv_loop_t *loop, std::shared_ptr<TlsContext> ctx,
                                                       const Endpoint &at, const StreamLimits &limits,
                                                       AcceptFn on_accept) {
  auto impl = std::static_pointer_cast<TlsContextImpl>(ctx);
  if (impl->side() != TlsContext::Side::server) return make_error(Errc::internal, "listen_tls needs a server context");
  return detail::listen_tcp_with(
      loop, at,
      [loop, impl, limits]() -> std::shared_ptr<detail::SocketStream> {
        auto s = std::make_shared<TlsStream>(loop, impl, limits);
        s->adopt_self(s);
        s->mark_accepted();
        Status st = s->setup({}, {});
        if (!st.ok()) LPM_ERROR("%s", st.error().to_string().c_str());
        return s;
      },
      std::move(on_accept));
}

} // namespace lpm::proto
