#include "http/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "common/log.h"
#include "common/text.h"
#include "common/version.h"
#include "http/plain_transport.h"
#include "uv/deferred.h"
#include "uv/handle.h"

namespace payhook::http {
namespace {

// Owning pointers for curl's C objects.
struct EasyDeleter {
  void operator()(CURL* e) const noexcept { curl_easy_cleanup(e); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool hasLineBreak(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos || s.find('\0') != std::string_view::npos;
}

double msSince(uint64_t start_ns) {
  return static_cast<double>(uv_hrtime() - start_ns) / 1e6;
}

}  // namespace

struct Client::Impl {
  struct Transfer {
    uint64_t id = 0;
    Impl* owner = nullptr;
    EasyPtr easy;
    SlistPtr headers;
    std::string body;  // curl reads it in place (POSTFIELDS), so it lives here until the end
    ClientResponse response;
    Done done;
    uint64_t start_ns = 0;
    char errbuf[CURL_ERROR_SIZE] = {};
  };

  uv_loop_t* loop;
  ClientOptions options;
  CURLM* multi = nullptr;
  uv::Timer timer;  // curl's single timeout
  // Failures reported on a later loop turn (send() never calls back from inside); one queued by shutdown()
  // in the Client's destructor still runs after the Client is gone.
  uv::Deferred deferred;
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> transfers;
  std::unordered_map<curl_socket_t, uv::Poll> polls;  // one per socket curl asks us to watch
  std::unique_ptr<PlainTransport> plain;              // http:// when options.lean_http
  uint64_t next_id = 1;
  bool shut = false;

  Impl(uv_loop_t* l, ClientOptions o) : loop(l), options(std::move(o)), timer(l) {
    globalInit();
    if (options.user_agent.empty()) options.user_agent = std::string("payhook/") + PAYHOOK_VERSION;
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::onSocket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::onTimerChange);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    if (options.max_host_connections > 0)
      curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
    if (options.max_idle_connections > 0)
      curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, options.max_idle_connections);
    if (options.lean_http) {
      plain = std::make_unique<PlainTransport>(loop, options, [this](Done done, ClientResponse r) {
        post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
      });
    }
  }

  ~Impl() { shutdown(); }

  void post(std::function<void()> fn) {
    if (shut) {
      // No owner keeps this one: released at once, it closes itself once it has run.
      uv::Deferred(loop).post(std::move(fn));
      return;
    }
    if (!deferred) deferred = uv::Deferred(loop);
    deferred.post(std::move(fn));
  }

  // A failure reported on a later loop turn, as send() promises.
  void fail(Done done, std::string error, uint64_t start_ns) {
    ClientResponse r;
    r.error = std::move(error);
    r.latency_ms = msSince(start_ns);
    post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  uint64_t send(ClientRequest req, Done done) {
    const uint64_t start = uv_hrtime();
    const uint64_t id = next_id++;
    if (shut) {
      fail(std::move(done), "client shut down", start);
      return id;
    }
    if (!req.url.starts_with("http://") && !req.url.starts_with("https://")) {
      fail(std::move(done), "url must start with http:// or https://", start);
      return id;
    }
    if (hasLineBreak(req.url) || hasLineBreak(req.method) || req.method.empty()) {
      fail(std::move(done), "invalid url or method", start);
      return id;
    }
    for (const auto& h : req.headers) {
      if (h.name.empty() || hasLineBreak(h.name) || hasLineBreak(h.value) ||
          h.name.find(':') != std::string::npos) {
        fail(std::move(done), "invalid request header", start);
        return id;
      }
    }
    if (plain && PlainTransport::accepts(req.url)) {
      plain->send(id, std::move(req), std::move(done), start);
      return id;
    }
    auto t = std::make_unique<Transfer>();
    t->id = id;
    t->owner = this;
    t->done = std::move(done);
    t->start_ns = start;
    t->body = std::move(req.body);
    t->easy.reset(curl_easy_init());
    if (!t->easy) {
      fail(std::move(t->done), "curl_easy_init failed", start);
      return id;
    }
    curl_slist* list = nullptr;
    for (const auto& h : req.headers) list = curl_slist_append(list, (h.name + ": " + h.value).c_str());
    // curl would otherwise wait up to a second for "100 Continue" before sending a larger body.
    list = curl_slist_append(list, "Expect:");
    t->headers.reset(list);

    CURL* e = t->easy.get();
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<uint64_t>(req.timeout_ms, 1)));
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::onBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::onHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    if (req.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      if (req.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
    }
    // add_handle only schedules the start through the timer callback, so nothing completes inside send().
    if (CURLMcode rc = curl_multi_add_handle(multi, e); rc != CURLM_OK) {
      fail(std::move(t->done), std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc), start);
      return id;
    }
    transfers.emplace(id, std::move(t));
    return id;
  }

  bool cancel(uint64_t id) {
    auto it = transfers.find(id);
    if (it == transfers.end()) return plain && plain->cancel(id);
    auto t = std::move(it->second);
    transfers.erase(it);
    curl_multi_remove_handle(multi, t->easy.get());
    fail(std::move(t->done), "cancelled", t->start_ns);
    return true;
  }

  void shutdown() {
    if (shut) return;
    // First, while failures still go to `deferred`.
    if (plain) plain->shutdown();
    for (auto& [id, t] : transfers) {
      curl_multi_remove_handle(multi, t->easy.get());
      fail(std::move(t->done), "client shut down", t->start_ns);
    }
    transfers.clear();
    shut = true;
    // Failures already queued still run; the block closes itself after them.
    deferred.release();
    // Stop watching every socket while its descriptor is still open, then let curl close the connections.
    polls.clear();
    curl_multi_cleanup(multi);
    multi = nullptr;
    timer.close();
  }

  // Called from curl (inside socket_action, add_handle, remove_handle or cleanup): only watches change.
  static int onSocket(CURL* /*easy*/, curl_socket_t fd, int what, void* userp, void* /*socketp*/) noexcept {
    auto* self = static_cast<Impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      // Closing now, before curl closes the descriptor, removes it from epoll while it is still this
      // socket: the number may be reused for the next connection at once.
      self->polls.erase(fd);
      return 0;
    }
    if (self->shut) return 0;
    auto it = self->polls.find(fd);
    if (it == self->polls.end()) {
      uv::Poll poll;
      auto onReady = [self, fd](int status, int events) { self->onPoll(fd, status, events); };
      if (int rc = poll.open(self->loop, fd, onReady); rc != 0) {
        log::error("http client: cannot watch a socket", {{"error", uv_strerror(rc)}});
        return -1;
      }
      it = self->polls.emplace(fd, std::move(poll)).first;
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    it->second.start(events);
    return 0;
  }

  void onPoll(curl_socket_t fd, int status, int events) {
    if (!multi) return;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running = 0;
    curl_multi_socket_action(multi, fd, flags, &running);
    finishDone();
  }

  static int onTimerChange(CURLM* /*multi*/, long timeout_ms, void* userp) noexcept {
    auto* self = static_cast<Impl*>(userp);
    if (self->shut) return 0;
    if (timeout_ms < 0) {
      self->timer.stop();
      return 0;
    }
    // Even a 0 ms timeout goes through the loop: socket_action must not be called from inside curl.
    self->timer.start(static_cast<uint64_t>(timeout_ms), [self] { self->onTimeout(); });
    return 0;
  }

  void onTimeout() {
    if (!multi) return;
    int running = 0;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    finishDone();
  }

  // Collects every finished transfer, then runs their callbacks. Nothing of `this` is touched after the
  // first callback, which may send, cancel, shut down or even destroy the Client.
  void finishDone() {
    std::vector<std::pair<Done, ClientResponse>> finished;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* raw = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi, msg->easy_handle);  // invalidates msg
      if (!raw) continue;
      auto it = transfers.find(raw->id);
      if (it == transfers.end()) continue;
      auto t = std::move(it->second);
      transfers.erase(it);
      ClientResponse& r = t->response;
      r.latency_ms = msSince(t->start_ns);
      long status = 0;
      curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &status);
      if (code == CURLE_OK) {
        r.status = static_cast<int>(status);
      } else if (code == CURLE_WRITE_ERROR && r.truncated && status > 0) {
        // We stopped reading at the cap ourselves; the status and headers are real.
        r.status = static_cast<int>(status);
        r.error = "response body larger than " + std::to_string(options.max_response_body) + " bytes, cut";
      } else {
        r.status = 0;
        r.error = t->errbuf[0] ? std::string(t->errbuf) : std::string(curl_easy_strerror(code));
        r.headers.clear();
        r.body.clear();
      }
      finished.emplace_back(std::move(t->done), std::move(r));
    }
    for (auto& [done, response] : finished) done(std::move(response));
  }

  static size_t onBody(char* data, size_t size, size_t n, void* userp) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    const size_t len = size * n;
    const size_t cap = t->owner->options.max_response_body;
    const size_t room = cap - std::min(cap, t->response.body.size());
    if (len > room) {
      t->response.body.append(data, room);
      t->response.truncated = true;
      return 0;  // stops the transfer: a peer cannot make us read without bound
    }
    t->response.body.append(data, len);
    return len;
  }

  static size_t onHeader(char* data, size_t size, size_t n, void* userp) noexcept {
    auto* t = static_cast<Transfer*>(userp);
    const size_t len = size * n;
    std::string_view line(data, len);
    if (line.starts_with("HTTP/")) {
      t->response.headers.clear();  // a new response (after 1xx): only the final one's headers count
      return len;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return len;
    std::string name(trim(line.substr(0, colon), " \t\r\n"));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    t->response.headers.push_back({std::move(name), std::string(trim(line.substr(colon + 1), " \t\r\n"))});
    return len;
  }
};

Client::Client(uv_loop_t* loop, ClientOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

Client::~Client() = default;

bool Client::asyncDnsAvailable() {
  globalInit();
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  return info && (info->features & CURL_VERSION_ASYNCHDNS) != 0;
}

uint64_t Client::send(ClientRequest request, Done done) {
  return impl_->send(std::move(request), std::move(done));
}

bool Client::cancel(uint64_t id) {
  return impl_->cancel(id);
}

void Client::shutdown() {
  impl_->shutdown();
}

size_t Client::inFlight() const {
  return impl_->transfers.size() + (impl_->plain ? impl_->plain->inFlight() : 0);
}

}  // namespace payhook::http
