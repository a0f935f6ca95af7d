// BackendService: a Service over a synchronous sdk::Backend (an embedded
// Monitor: what each domain's monitor process serves to hvd). Requests
// run on a fixed pool, so a slow one never stalls the server's loop; the
// pool's size bounds how many run at once (the rest queue).
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "control/service.hpp"

namespace hv::control {

class BackendService final : public Service {
public:
    explicit BackendService(sdk::Backend& backend, size_t threads = 4) : backend_(backend), pool_(threads) {}
    ~BackendService() override { pool_.join(); }

    void call(const Peer& peer, uint32_t op, std::string payload, std::function<void(Reply)> done) override;
    Result<std::unique_ptr<sdk::Subscription>> subscribe_events(std::function<void(const sdk::Event&)> fn) override {
        return backend_.subscribe_events(std::move(fn));
    }
    void subscribe_console(const Peer& peer, uint32_t domid, sdk::ConsoleType type, ConsoleSink sink,
                           std::function<void(Result<std::unique_ptr<sdk::Subscription>>)> done) override;

    // Waits for running requests (before the backend goes away).
    void join() { pool_.join(); }

private:
    sdk::Backend& backend_;
    boost::asio::thread_pool pool_;
};

} // namespace hv::control
