// The memory a domain's vCPU threads share with the host scheduler
// (SchedHost): one SchedPage per domain process (hvd) or per domain
// (embedded), and one SchedBell per host. In hvd they are files under
// STATE/run mapped by both sides, so they outlive an hvd restart like the
// domain sockets do; embedded, they are plain memory of one process.
//
// Who writes what (and so what the other side must not trust):
//  - the vCPU side (SchedClient) writes `want`, `yields`, `tid`, `online`,
//    `nr_vcpus`, `kick_signal` and sets `dirty`, then rings the bell;
//  - the host side (SchedHost) writes `grant`, `pinned`, `claimed`,
//    `managed` and `heartbeat_ns` of each page it schedules. The bell only
//    carries rings: nothing a domain writes there can make the host look
//    absent to another domain. hvd reads the vCPU side's words as untrusted input:
//    indexes are bounded, the tid is only used with the process's own pid
//    (tgkill, /proc/PID/task/TID), the signal must be a real-time one.
// The words are lock-free 32/64-bit atomics: futex words, and safe
// between processes.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/sched/scheduler.hpp"

namespace hv::sched {

inline constexpr uint32_t kPageMagic = 0x50534856;  // "VHSP"
inline constexpr uint32_t kBellMagic = 0x42534856;  // "VHSB"
inline constexpr uint32_t kLayoutVersion = 2;
inline constexpr uint32_t kPageVcpus = core::sched::kMaxVcpusPerDomain;

// A vCPU is gated only while a host claims its page and beats: a domain
// whose host is gone (hvd restarting, `--sched none`) runs under Linux's
// scheduler alone rather than stopping. The host beats at least every
// kBeatNs; a beat older than kStaleNs means no host.
inline constexpr uint64_t kBeatNs = 50'000'000;
inline constexpr uint64_t kStaleNs = 1'000'000'000;

struct alignas(64) SchedVcpuSlot {
    std::atomic<uint32_t> grant{0};   // host: 0 = may not enter; pCPU + 1 = may enter, on that pCPU (futex word)
    std::atomic<uint32_t> want{0};    // vCPU: 1 = runnable (wants a pCPU), 0 = blocked, paused or offline
    std::atomic<uint32_t> online{0};  // vCPU: 1 while its thread exists
    std::atomic<uint32_t> yields{0};  // vCPU: count of sched_op yields
    std::atomic<int32_t> tid{0};      // vCPU: its thread's id (gettid)
    std::atomic<uint32_t> pinned{0};  // host: 1 = it bound the thread to a CPU (the vCPU side undoes it when let go)
};

struct SchedPage {
    uint32_t magic = kPageMagic;
    uint32_t version = kLayoutVersion;
    std::atomic<uint32_t> nr_vcpus{0};     // vCPU side: slots in use
    std::atomic<uint32_t> dirty{0};        // vCPU side: 1 = something changed since the host last looked
    std::atomic<int32_t> kick_signal{0};   // vCPU side: the signal that makes a vCPU thread leave the guest
    std::atomic<uint32_t> claimed{0};      // host: 1 while a host schedules this page's vCPUs
    std::atomic<uint32_t> managed{0};      // host: vCPU slots it schedules (0..managed-1); others enter freely
    std::atomic<uint64_t> heartbeat_ns{0}; // host: CLOCK_MONOTONIC of its last pass; 0 = no host
    SchedVcpuSlot vcpu[kPageVcpus];
};

struct SchedBell {
    uint32_t magic = kBellMagic;
    uint32_t version = kLayoutVersion;
    std::atomic<uint32_t> ring{0};          // vCPU side: bumped on every change (futex word the host waits on)
};

static_assert(std::atomic<uint32_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free,
              "scheduling words are shared between processes");

// Where hvd keeps them: STATE/run/sched.bell, and SOCKET.sched beside each
// domain process's socket.
inline std::string bell_path_of(const std::string& state_dir) { return state_dir + "/run/sched.bell"; }
inline std::string page_path_of(const std::string& socket) { return socket + ".sched"; }

// CLOCK_MONOTONIC in ns (the heartbeat's clock, the same in every process).
uint64_t monotonic_ns();

// futex wait/wake on a word that may be shared between processes. wait
// returns after a wake, a change of the word from `expected`, a signal or
// `timeout_ns` (always bounded).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, uint64_t timeout_ns);
void futex_wake(std::atomic<uint32_t>& word, int count);

} // namespace hv::sched
