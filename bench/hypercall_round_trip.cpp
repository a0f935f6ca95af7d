// hypercall_round_trip: what one hypercall from guest ring 3 costs, through
// the whole monitor (KVM exit, vCPU thread, dispatcher, guest-memory slot,
// result back in rax, re-entry).
//
// ours:     the hello guest booted with bench-hypercalls=0 and =N (default
//           20000) version_get calls; (wall time of the N run - wall time of
//           the 0 run) / N, each run timed from Monitor::create() to
//           wait_stopped() (the guest powers off).
// baseline: a bare KVM VM in this process whose ring-3 code does N `out`
//           exits to the same port in a loop, the host answering each with
//           the next KVM_RUN; (time from a start marker exit to an end
//           marker exit) / (N + 1).
// Rounds alternate (ours 0, ours N, baseline); per-round figures, medians.
//
//   bench_hypercall_round_trip [--calls=N] [--rounds=R]   (20000, 5)
// The hello guest: $HV_HELLO_GUEST, else the build's tests/guests/hello.elf.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_util.hpp"
#include "config/domain_config_loader.hpp"
#include "hv/abi/common.h"
#include "raw_kvm.hpp"

using namespace hvbench;

namespace {

std::string hello_guest() {
    const char* env = std::getenv("HV_HELLO_GUEST");
    if (env != nullptr && *env != 0) return env;
#ifdef HV_BENCH_HELLO_GUEST
    return HV_BENCH_HELLO_GUEST;
#else
    die("HV_HELLO_GUEST is not set");
#endif
}

// One hello domain with `calls` hypercalls: seconds from create() to stopped.
// on_poweroff=preserve keeps the console to check after the timing.
double ours_once(hv::Monitor& m, const std::string& kernel, long calls) {
    const std::string text = "name = 'bench-hypercall'\nkernel = '" + kernel +
                             "'\nmemory = 16\nvcpus = 1\non_poweroff = 'preserve'\n"
                             "extra = 'poweroff bench-hypercalls=" + std::to_string(calls) + "'\n";
    auto cfg = hv::config::parse_domain_config(text, "bench.cfg");
    if (!cfg) die("config: " + cfg.error().message);

    const auto t0 = Clock::now();
    auto id = m.create(*cfg);
    if (!id) die("Monitor::create: " + id.error().message);
    auto info = m.wait_stopped(*id, std::chrono::minutes(5));
    const auto t1 = Clock::now();

    auto history = m.console_history(*id);
    const std::string console = history ? *history : "";
    (void)m.destroy(*id);
    if (!info) die("wait_stopped: " + info.error().message);
    const std::string done = "hello: bench-hypercalls " + std::to_string(calls) + " done\n";
    if (info->shutdown_reason != hv::core::ShutdownReason::poweroff || console.find(done) == std::string::npos)
        die("the hello guest did not finish its hypercalls; its console:\n" + console);
    return seconds_between(t0, t1);
}

// Ring-0 iretq to ring 3, then: out to 0x10 (start), `calls` times
// `outl %eax,%dx` to HV_HYPERCALL_PORT, out to 0x11 (end).
double baseline_once(const RawKvm& kvm, long calls) {
    constexpr uint32_t kRing0 = 0x10000, kRing3 = 0x11000, kUserStack = 0x9000;
    RawVm vm(kvm, 16u << 20);
    vm.set_long_mode(kRing0, 0x8000);
    emit_iret_to_ring3(vm.mem() + kRing0, kRing3, kUserStack);
    const auto n = static_cast<uint32_t>(calls);
    const uint8_t port_lo = HV_HYPERCALL_PORT & 0xff, port_hi = HV_HYPERCALL_PORT >> 8;
    const uint8_t code[] = {
        0xe6, 0x10,                                        // out %al, $0x10      (start)
        0xba, port_lo, port_hi, 0, 0,                      // mov $port, %edx
        0xb9, uint8_t(n), uint8_t(n >> 8), uint8_t(n >> 16), uint8_t(n >> 24), // mov $n, %ecx
        0xef,                                              // 1: out %eax, %dx
        0xff, 0xc9,                                        //    dec %ecx
        0x75, 0xfb,                                        //    jnz 1b
        0xe6, 0x11,                                        // out %al, $0x11      (end)
        0x0f, 0x0b,                                        // ud2 (never reached)
    };
    std::memcpy(vm.mem() + kRing3, code, sizeof code);

    const kvm_run& run = vm.run_area();
    Clock::time_point t0{};
    long loop_exits = 0;
    for (;;) {
        const uint32_t reason = vm.run();
        if (reason != KVM_EXIT_IO)
            die("baseline: unexpected exit reason " + std::to_string(reason) + " (want KVM_EXIT_IO)");
        if (run.io.port == 0x10) t0 = Clock::now();
        else if (run.io.port == HV_HYPERCALL_PORT) ++loop_exits;
        else if (run.io.port == 0x11) break;
        else die("baseline: exit on unexpected port " + std::to_string(run.io.port));
    }
    const auto t1 = Clock::now();
    if (loop_exits != calls) die("baseline: " + std::to_string(loop_exits) + " loop exits, want " + std::to_string(calls));
    return seconds_between(t0, t1) / static_cast<double>(calls + 1);
}

void bench(int argc, char** argv) {
    const long calls = arg_long(argc, argv, "calls", 20000);
    const long rounds = arg_long(argc, argv, "rounds", 5);
    if (calls > 0xffffffffl) die("--calls is over 2^32-1");
    const std::string kernel = hello_guest();
    auto monitor = open_monitor();
    const RawKvm kvm;
    ours_once(*monitor, kernel, 0); // untimed: page cache, first-use costs

    std::vector<double> ours, base;
    for (long r = 0; r < rounds; ++r) {
        const double empty = ours_once(*monitor, kernel, 0);
        const double full = ours_once(*monitor, kernel, calls);
        const double per_call = (full - empty) / static_cast<double>(calls);
        const double raw = baseline_once(kvm, calls);
        std::printf("  round %ld: hello 0 calls %.1f ms, %ld calls %.1f ms -> %.2f us/call; raw exit %.2f us\n", r + 1,
                    empty * 1e3, calls, full * 1e3, per_call * 1e6, raw * 1e6);
        std::fflush(stdout);
        ours.push_back(per_call);
        base.push_back(raw);
    }
    std::printf("hypercall_round_trip: %ld calls per run, %ld rounds\n", calls, rounds);
    std::printf("  ours (version_get via the monitor) us: %s\n", spread(ours, 1e6).c_str());
    std::printf("  baseline (raw ring-3 out exit)     us: %s\n", spread(base, 1e6).c_str());
    print_result("hypercall_round_trip", median(ours), median(base), 1e6, "us");
}

} // namespace

int main(int argc, char** argv) {
    return guarded_main("hypercall_round_trip", [&] { bench(argc, argv); });
}
