// DomainWatcher: learns when domains stop from the connection's event
// stream (shutdown with its reason, destroyed, restarted as a new domid),
// so a stop is never missed between two polls and its reason survives the
// domain being forgotten. A slow info() poll backs the events up (a lost
// daemon is noticed, and a domain gone without a word still ends a wait).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <hv/result.hpp>
#include <hv/sdk/connection.hpp>

namespace hvctl {

class DomainWatcher {
public:
    using Clock = std::chrono::steady_clock;

    // How a domain stopped, as far as is known.
    struct Stop {
        std::optional<hv::sdk::ShutdownReason> reason; // none: destroyed from outside
        bool destroyed = false;
        uint32_t restarted_as = 0; // on_* restart: the new domain
        bool crashed() const { return reason == hv::sdk::ShutdownReason::crash; }
    };

    // Subscribes to `conn`'s events; do it before asking a domain to stop.
    static hv::Result<std::unique_ptr<DomainWatcher>> start(const hv::sdk::Connection& conn);

    // Without blocking (beyond a short settle once it has stopped): the
    // domain's stop, or nothing while it runs. Polls dom.info() at most
    // once a second; an error other than "no such domain" is returned.
    hv::Result<std::optional<Stop>> check(const hv::sdk::Domain& dom);

    // Blocks until the domain has stopped (its stop), `deadline` passes
    // (Errc::timed_out), or the connection fails.
    hv::Result<Stop> wait(const hv::sdk::Domain& dom, Clock::time_point deadline);

    // What the events have said of domid's stop so far, without waiting.
    std::optional<Stop> known(uint32_t domid) const;

private:
    DomainWatcher() = default;
    void on_event(const hv::sdk::Event& e);
    bool stopped_locked(uint32_t domid) const;
    // After a stop, waits briefly for the events that follow it (destroyed,
    // restarted) and returns what is known.
    Stop settle(uint32_t domid);
    hv::Result<std::optional<Stop>> poll(const hv::sdk::Domain& dom);

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::map<uint32_t, Stop> stops_;
    std::map<uint32_t, bool> seen_stop_; // a shutdown or destroyed event came
    Clock::time_point last_poll_{};
    std::unique_ptr<hv::sdk::Subscription> sub_; // last: stops callbacks before the rest goes
};

} // namespace hvctl
