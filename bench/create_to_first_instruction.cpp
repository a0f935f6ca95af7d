// create_to_first_instruction: how long from asking for a domain to its
// first guest instruction having an effect the host sees.
//
// ours:     Monitor::create() of a tiny PVH kernel (a temporary ELF file)
//           until its first 16550 byte reaches a console listener.
// baseline: the same kernel's code run by bare KVM ioctls in this process:
//           KVM_CREATE_VM .. KVM_RUN until the KVM_EXIT_IO of that byte.
// Runs alternate (ours, baseline, ours, ...); medians are compared.
//
//   bench_create_to_first_instruction [--runs=N]   (default 30)
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>

#include "bench_util.hpp"
#include "config/domain_config_loader.hpp"
#include "pvh_image.hpp"
#include "raw_kvm.hpp"

using namespace hvbench;

namespace {

constexpr uint64_t kRamMib = 128; // xl's default memory=, both sides
constexpr uint32_t kStartInfo = 0x6000; // where hv's loader puts hvm_start_info (ebx)

// Monitor side: create (paused, so the listener is attached before any
// guest code runs), subscribe, unpause; the listener on the vCPU thread
// stamps the time it sees '!'. The domain is destroyed outside the timing.
// `in_create` gets the part spent inside create() itself.
double ours_once(hv::Monitor& m, const hv::config::DomainConfig& cfg, double& in_create) {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Clock::time_point> seen;

    const auto t0 = Clock::now();
    auto id = m.create(cfg, /*paused=*/true);
    if (!id) die("Monitor::create: " + id.error().message);
    in_create = seconds_between(t0, Clock::now());
    auto sub = m.console_subscribe(*id, hv::Domain::ConsoleKind::automatic, [&](std::string_view bytes) {
        if (bytes.find('!') == std::string_view::npos) return;
        const auto t = Clock::now();
        std::lock_guard lock(mu);
        if (!seen) seen = t;
        cv.notify_all();
    });
    if (!sub) die("console_subscribe: " + sub.error().message);
    if (auto r = m.unpause(*id); !r) die("unpause: " + r.error().message);

    std::unique_lock lock(mu);
    const bool ok = cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen.has_value(); });
    const auto t1 = seen.value_or(t0);
    lock.unlock();
    m.console_unsubscribe(*id, hv::Domain::ConsoleKind::automatic, *sub);
    if (auto r = m.destroy(*id); !r) die("destroy: " + r.error().message);
    if (!ok) die("the guest's byte did not reach the console within 10 s");
    return seconds_between(t0, t1);
}

// Raw side: the same steps with nothing in between; the VM is closed
// outside the timing, as the domain is.
double baseline_once(const RawKvm& kvm, const std::vector<uint8_t>& code) {
    const auto t0 = Clock::now();
    RawVm vm(kvm, kRamMib << 20);
    vm.set_pvh_entry(kPvhLoadAddr, kStartInfo);
    std::memcpy(vm.mem() + kPvhLoadAddr, code.data(), code.size());
    const uint32_t reason = vm.run();
    const auto t1 = Clock::now();
    const kvm_run& run = vm.run_area();
    if (reason != KVM_EXIT_IO || run.io.port != 0x3f8 || run.io.direction != KVM_EXIT_IO_OUT ||
        reinterpret_cast<const uint8_t*>(&run)[run.io.data_offset] != '!')
        die("baseline: first exit is not the byte to port 0x3f8 (exit reason " + std::to_string(reason) + ")");
    return seconds_between(t0, t1);
}

void bench(int argc, char** argv) {
    const long runs = arg_long(argc, argv, "runs", 30);
    const std::vector<uint8_t> code = first_byte_code();
    const TempFile image(pvh_elf(code));
    const std::string text = "name = 'bench-first'\nkernel = '" + image.path() + "'\nmemory = " +
                             std::to_string(kRamMib) + "\nvcpus = 1\n";
    auto cfg = hv::config::parse_domain_config(text, "bench.cfg");
    if (!cfg) die("config: " + cfg.error().message);

    auto monitor = open_monitor();
    const RawKvm kvm;
    // One untimed run each: page cache, first-use costs in KVM and libc.
    double in_create = 0;
    ours_once(*monitor, *cfg, in_create);
    baseline_once(kvm, code);

    std::vector<double> ours, base, creates;
    for (long i = 0; i < runs; ++i) {
        ours.push_back(ours_once(*monitor, *cfg, in_create));
        creates.push_back(in_create);
        base.push_back(baseline_once(kvm, code));
    }
    std::printf("create_to_first_instruction: %ld runs each, %llu MiB RAM, 1 vCPU, interleaved\n", runs,
                static_cast<unsigned long long>(kRamMib));
    std::printf("  ours (Monitor::create -> console listener) ms: %s\n", spread(ours, 1e3).c_str());
    std::printf("    of which inside Monitor::create()        ms: %s\n", spread(creates, 1e3).c_str());
    std::printf("  baseline (KVM_CREATE_VM -> KVM_EXIT_IO)    ms: %s\n", spread(base, 1e3).c_str());
    print_result("create_to_first_instruction", median(ours), median(base), 1e3, "ms");
}

} // namespace

int main(int argc, char** argv) {
    return guarded_main("create_to_first_instruction", [&] { bench(argc, argv); });
}
