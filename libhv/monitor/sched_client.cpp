#include "monitor/sched_client.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

namespace hv::sched {

uint64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Not FUTEX_PRIVATE: the word may live in a file both processes map.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, uint64_t timeout_ns) {
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000u), static_cast<long>(timeout_ns % 1'000'000'000u)};
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake(std::atomic<uint32_t>& word, int count) {
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

SchedClient::SchedClient(SchedPage& page, SchedBell& bell, int kick_signal) : page_(page), bell_(bell) {
    page_.kick_signal.store(kick_signal);
}

SchedClient::SchedClient(std::unique_ptr<SchedPage> page, SchedBell& bell, int kick_signal)
    : owned_(std::move(page)), page_(*owned_), bell_(bell) {
    page_.kick_signal.store(kick_signal);
}

void SchedClient::changed() {
    page_.dirty.store(1);
    bell_.ring.fetch_add(1);
    futex_wake(bell_.ring, 1);
}

void SchedClient::online(uint32_t vcpu, bool yes) {
    if (vcpu >= kPageVcpus) return;
    SchedVcpuSlot& s = page_.vcpu[vcpu];
    if (yes) {
        s.tid.store(static_cast<int32_t>(::gettid()));
        uint32_t n = page_.nr_vcpus.load();
        while (n < vcpu + 1 && !page_.nr_vcpus.compare_exchange_weak(n, vcpu + 1)) {
        }
    } else {
        // Offline: it wants no pCPU, and a grant left from before is not
        // one it may enter on when it comes back (it asks again).
        s.want.store(0);
        s.grant.store(0);
    }
    s.online.store(yes ? 1 : 0);
    changed();
}

void SchedClient::want(uint32_t vcpu, bool yes) {
    if (vcpu >= kPageVcpus) return;
    // Stored before the grant is read (acquire) and read by the host after
    // it clears a grant: one of the two sees the other's store, so a vCPU
    // never enters on a grant the host took back without being kicked.
    if (page_.vcpu[vcpu].want.exchange(yes ? 1 : 0) != (yes ? 1u : 0u)) changed();
}

void SchedClient::yield(uint32_t vcpu) {
    if (vcpu >= kPageVcpus) return;
    page_.vcpu[vcpu].yields.fetch_add(1);
    changed();
}

void SchedClient::interrupt(uint32_t vcpu) {
    if (vcpu < kPageVcpus) futex_wake(page_.vcpu[vcpu].grant, 1);
}

bool SchedClient::host_present() const {
    if (page_.claimed.load() == 0) return false;
    const uint64_t beat = page_.heartbeat_ns.load();
    const uint64_t now = monotonic_ns();
    return beat != 0 && beat <= now && now - beat < kStaleNs;
}

void SchedClient::let_go(uint32_t vcpu) {
    if (vcpu >= kPageVcpus || page_.vcpu[vcpu].pinned.exchange(0) == 0) return;
    // The process's own CPUs: what a thread it creates would get.
    cpu_set_t set;
    if (::sched_getaffinity(::getpid(), sizeof set, &set) == 0) ::sched_setaffinity(0, sizeof set, &set);
}

} // namespace hv::sched
