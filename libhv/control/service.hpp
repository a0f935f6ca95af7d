// Service: what a ControlServer serves. The server owns the connection
// (framing, HELLO, limits, output queues); a Service answers requests and
// feeds subscriptions. Every call arrives on the server's io_context
// thread and must not block it: a Service either answers from memory,
// talks to others asynchronously (hvd), or hands the work to a bounded
// pool (BackendService, over a synchronous sdk::Backend). `done` may be
// called on any thread, exactly once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "control/request_handler.hpp"
#include "hv/sdk/backend.hpp"

namespace hv::control {

// Who is asking: the connecting process's credentials (SO_PEERCRED).
struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    bool root() const { return uid == 0; }
};

// The console stream of one subscriber: bytes as they come, and its end
// (the domain or its monitor process is gone; `why` says which).
struct ConsoleSink {
    std::function<void(std::string_view)> data;
    std::function<void(const Error& why)> end;
};

class Service {
public:
    virtual ~Service() = default;

    // One request (anything but HELLO and SUBSCRIBE).
    virtual void call(const Peer& peer, uint32_t op, std::string payload, std::function<void(Reply)> done) = 0;

    // Domain events of every domain, in order, until the Subscription is
    // destroyed. `fn` runs on any thread and must not block.
    virtual Result<std::unique_ptr<sdk::Subscription>> subscribe_events(std::function<void(const sdk::Event&)> fn) = 0;

    // A console stream (history first, then live, neither missed nor
    // repeated). `done` gets the Subscription, or why there is none.
    virtual void subscribe_console(const Peer& peer, uint32_t domid, sdk::ConsoleType type, ConsoleSink sink,
                                   std::function<void(Result<std::unique_ptr<sdk::Subscription>>)> done) = 0;
};

} // namespace hv::control
