#include "domain_watcher.hpp"

#include <algorithm>

namespace hvctl {

namespace {

constexpr auto kPollEvery = std::chrono::seconds(1);
// The events that follow a stop (destroyed, restarted) come at once from
// the same monitor step; this is how long to give them.
constexpr auto kSettle = std::chrono::milliseconds(300);

} // namespace

hv::Result<std::unique_ptr<DomainWatcher>> DomainWatcher::start(const hv::sdk::Connection& conn) {
    std::unique_ptr<DomainWatcher> w(new DomainWatcher());
    DomainWatcher* raw = w.get();
    auto sub = conn.subscribe_events([raw](const hv::sdk::Event& e) { raw->on_event(e); });
    if (!sub) return sub.error();
    w->sub_ = std::move(*sub);
    return w;
}

void DomainWatcher::on_event(const hv::sdk::Event& e) {
    using Kind = hv::sdk::Event::Kind;
    std::lock_guard lock(mu_);
    Stop& s = stops_[e.domid];
    switch (e.kind) {
    case Kind::shutdown:
        s.reason = e.reason;
        seen_stop_[e.domid] = true;
        break;
    case Kind::destroyed:
        s.destroyed = true;
        seen_stop_[e.domid] = true;
        break;
    case Kind::restarted: s.restarted_as = e.new_domid; break;
    default: return;
    }
    cv_.notify_all();
}

bool DomainWatcher::stopped_locked(uint32_t domid) const {
    auto it = seen_stop_.find(domid);
    return it != seen_stop_.end() && it->second;
}

std::optional<DomainWatcher::Stop> DomainWatcher::known(uint32_t domid) const {
    std::lock_guard lock(mu_);
    if (!stopped_locked(domid)) return std::nullopt;
    return stops_.at(domid);
}

DomainWatcher::Stop DomainWatcher::settle(uint32_t domid) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kSettle, [&] { return stops_[domid].restarted_as != 0; });
    return stops_[domid];
}

hv::Result<std::optional<DomainWatcher::Stop>> DomainWatcher::poll(const hv::sdk::Domain& dom) {
    last_poll_ = Clock::now();
    auto info = dom.info();
    if (!info) {
        if (info.error().code != hv::Errc::not_found) return info.error();
        return std::optional<Stop>(settle(dom.id())); // gone; the events may say how
    }
    using hv::sdk::State;
    if (info->state != State::shutdown && info->state != State::crashed && info->exists) return std::optional<Stop>();
    Stop s = settle(dom.id());
    if (!s.reason) s.reason = info->shutdown_reason;
    if (s.restarted_as == 0) s.restarted_as = info->restarted_as;
    s.destroyed = s.destroyed || !info->exists;
    return std::optional<Stop>(s);
}

hv::Result<std::optional<DomainWatcher::Stop>> DomainWatcher::check(const hv::sdk::Domain& dom) {
    bool stopped;
    {
        std::lock_guard lock(mu_);
        stopped = stopped_locked(dom.id());
    }
    if (stopped) return std::optional<Stop>(settle(dom.id()));
    if (Clock::now() - last_poll_ < kPollEvery) return std::optional<Stop>();
    return poll(dom);
}

hv::Result<DomainWatcher::Stop> DomainWatcher::wait(const hv::sdk::Domain& dom, Clock::time_point deadline) {
    for (;;) {
        auto s = check(dom);
        if (!s) return s.error();
        if (*s) return **s;
        const auto now = Clock::now();
        if (now >= deadline) return hv::make_error(hv::Errc::timed_out, "timed out");
        std::unique_lock lock(mu_);
        cv_.wait_until(lock, std::min(deadline, last_poll_ + kPollEvery), [&] { return stopped_locked(dom.id()); });
    }
}

} // namespace hvctl
