// Where the accounting server learns which keys are enrolled, and as what (DESIGN.md §3:
// "services trust each other through the directory"). Production asks the directory
// (list-enrolled over a pinned TLS connection); tests that have no directory at hand give a
// fixed list through the same interface.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <uv.h>

#include "lpm/error.h"
#include "lpm/protocol/ops.h"
#include "lpm/protocol/stream.h"

namespace lpm::accounting {

class KeySource {
public:
  using FetchFn = std::function<void(Result<std::vector<proto::EnrolledKey>>)>;
  using PeopleFn = std::function<void(Result<std::vector<proto::PersonFacts>>)>;
  virtual ~KeySource() = default;
  // Fetches the complete list of enrolled keys. `done` runs exactly once on the loop thread,
  // possibly before fetch() returns. One fetch at a time: a second one while the first runs fails
  // with conflict. Errors: unavailable / timeout (source unreachable), unauthenticated or forbidden
  // (the source refused us), protocol_error / too_large (a malformed or oversized answer).
  virtual void fetch(FetchFn done) = 0;
  // Fetches the complete list of people (list-people), the same way; it may run beside a fetch
  // of keys. A source that knows no people answers unavailable.
  virtual void fetch_people(PeopleFn done) {
    done(make_error(Errc::unavailable, "this key source lists no people"));
  }
  // Stops for good: a fetch still running completes with unavailable before this returns;
  // connections and handles are released as the loop runs on.
  virtual void close() = 0;
};

struct DirectoryKeySourceOptions {
  proto::Endpoint directory;
  proto::Fingerprint directory_fingerprint; // pinned: no other key is accepted as the directory
  uint32_t fetch_timeout_ms = 15000;        // a whole fetch (connect + every page) must finish in this
  size_t max_people = 2000000;              // a directory listing more people than this is refused
  uint32_t idle_timeout_ms = 6 * 60 * 1000; // longer than the periodic refresh, so the connection stays up
  size_t max_keys = 1000000;                // a directory answering more than this is refused (too_large)
};

// The production source: a persistent TLS connection to the directory, opened on first use and
// re-opened after it drops, authenticated with `client_ctx`'s identity (this server's enrolled
// key). Pages through list-enrolled (and list-people) following `next`.
std::shared_ptr<KeySource> make_directory_key_source(uv_loop_t *loop,
                                                     std::shared_ptr<proto::TlsContext> client_ctx,
                                                     DirectoryKeySourceOptions options);

} // namespace lpm::accounting
