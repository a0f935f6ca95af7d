#include "control/backend_service.hpp"

#include <boost/asio/post.hpp>

namespace hv::control {

void BackendService::call(const Peer&, uint32_t op, std::string payload, std::function<void(Reply)> done) {
    boost::asio::post(pool_, [this, op, payload = std::move(payload), done = std::move(done)] {
        done(handle_request(backend_, op, payload));
    });
}

void BackendService::subscribe_console(const Peer&, uint32_t domid, sdk::ConsoleType type, ConsoleSink sink,
                                       std::function<void(Result<std::unique_ptr<sdk::Subscription>>)> done) {
    // The monitor's console subscription replays history, then goes live;
    // it ends when the domain does (the peer learns that from events).
    done(backend_.subscribe_console(domid, type, std::move(sink.data)));
}

} // namespace hv::control
