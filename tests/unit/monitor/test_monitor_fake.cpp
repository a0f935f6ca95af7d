// The monitor on a fake platform: pause, block and wake, shutdown, crash
// and restart decided by the core and carried out by the hosted monitor,
// without /dev/kvm (the KVM integration tests remain the end-to-end proof).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "config/domain_config.hpp"
#include "monitor/monitor.hpp"
#include "fake_platform.hpp"
#include "pvh_image.hpp"

using namespace hvtest;
using hv::Monitor;
using hv::core::DomainState;
using hv::core::ShutdownAction;
using hv::core::ShutdownReason;

namespace {

hv_call_t sched_call(uint16_t op) {
    hv_call_t c{};
    c.group = HV_GROUP_SCHED_OP;
    c.op = op;
    return c;
}

hv_call_t block_call(uint64_t timeout_ns) {
    hv_call_t c = sched_call(HV_SCHED_OP_BLOCK);
    hv_sched_block_t b{};
    b.timeout_ns = timeout_ns;
    std::memcpy(c.args, &b, sizeof b);
    return c;
}

hv_call_t shutdown_call(uint32_t reason) {
    hv_call_t c = sched_call(HV_SCHED_OP_SHUTDOWN);
    hv_sched_shutdown_t s{reason, 0};
    std::memcpy(c.args, &s, sizeof s);
    return c;
}

hv_sched_block_t block_result(const hv_call_t& c) {
    hv_sched_block_t b;
    std::memcpy(&b, c.args, sizeof b);
    return b;
}

struct Fixture {
    explicit Fixture(GuestProgram program) : platform(std::make_shared<FakeHypervisor>(std::move(program))) {
        Monitor::Options o;
        o.platform = platform;
        o.log_level = "off";
        auto m = Monitor::open(o);
        REQUIRE(m);
        monitor = std::move(*m);
    }
    hv::config::DomainConfig config(const std::string& name, uint32_t vcpus = 1) const {
        hv::config::DomainConfig c;
        c.name = name;
        c.kernel = kernel.path();
        c.memory_mib = 4;
        c.vcpus = vcpus;
        return c;
    }
    DomainState state(uint32_t domid) const {
        auto i = monitor->info(domid);
        REQUIRE(i);
        return i->state;
    }
    // The smallest PVH kernel (the benchmarks' own); the fake vCPUs never
    // run its code, but the monitor loads it as it would any kernel.
    hvbench::TempFile kernel{hvbench::pvh_elf(hvbench::first_byte_code())};
    std::shared_ptr<FakeHypervisor> platform;
    std::unique_ptr<Monitor> monitor;
};

} // namespace

TEST_CASE("monitor on a fake platform: pause kicks running vCPUs out and holds them", "[monitor][fake]") {
    std::atomic<int> runs{0};
    Fixture f([&](FakeVcpu&) -> std::optional<hv::platform::VcpuExit> {
        ++runs;
        return std::nullopt; // spins in the guest until kicked
    });
    auto id = f.monitor->create(f.config("spin"));
    REQUIRE(id);
    REQUIRE(eventually([&] { return runs.load() == 1; }));
    CHECK(f.state(*id) == DomainState::running);
    REQUIRE(f.monitor->pause(*id)); // returns once no vCPU is in the guest
    CHECK(f.state(*id) == DomainState::paused);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(runs.load() == 1); // held at the gate
    REQUIRE(f.monitor->unpause(*id));
    REQUIRE(eventually([&] { return runs.load() == 2; }));
    CHECK(f.state(*id) == DomainState::running);
    REQUIRE(f.monitor->destroy(*id));
    CHECK_FALSE(f.monitor->info(*id));
}

TEST_CASE("monitor on a fake platform: a blocked vCPU wakes for a shutdown request and the guest powers off",
          "[monitor][fake]") {
    std::mutex mu;
    hv_sched_block_t woke{};
    Fixture f([&](FakeVcpu& v) -> std::optional<hv::platform::VcpuExit> {
        switch (v.step++) {
        case 0: return v.hypercall(block_call(0)); // sleeps until an event
        case 1: {
            std::lock_guard lock(mu);
            woke = block_result(v.slot());
            return v.hypercall(shutdown_call(woke.shutdown_request));
        }
        default: return std::nullopt;
        }
    });
    auto cfg = f.config("sleeper");
    cfg.actions.on_poweroff = ShutdownAction::preserve;
    auto id = f.monitor->create(cfg);
    REQUIRE(id);
    REQUIRE(eventually([&] { return f.state(*id) == DomainState::blocked; }));
    REQUIRE(f.monitor->shutdown(*id, ShutdownReason::poweroff));
    auto end = f.monitor->wait_stopped(*id, std::chrono::milliseconds(5000));
    REQUIRE(end);
    CHECK(end->state == DomainState::shutdown);
    REQUIRE(end->shutdown_reason);
    CHECK(*end->shutdown_reason == ShutdownReason::poweroff);
    std::lock_guard lock(mu);
    CHECK(woke.events == HV_EVENT_SHUTDOWN_REQUEST);
    CHECK(woke.shutdown_request == HV_SHUTDOWN_POWEROFF);
}

TEST_CASE("monitor on a fake platform: a block times out on the platform's clock, and not while paused",
          "[monitor][fake]") {
    std::atomic<int64_t> result{1};
    Fixture f([&](FakeVcpu& v) -> std::optional<hv::platform::VcpuExit> {
        switch (v.step++) {
        case 0: return v.hypercall(block_call(1'000'000'000)); // 1 s of virtual time
        case 1: result = v.slot().result; return std::nullopt;
        default: return std::nullopt;
        }
    });
    auto id = f.monitor->create(f.config("timer"));
    REQUIRE(id);
    REQUIRE(eventually([&] { return f.state(*id) == DomainState::blocked; }));
    // Real time passes, virtual time does not: it stays blocked.
    f.platform->vclock->advance(999'000'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(result.load() == 1);
    CHECK(f.state(*id) == DomainState::blocked);
    // Its deadline passes while the domain is paused: no timeout yet.
    REQUIRE(f.monitor->pause(*id));
    f.platform->vclock->advance(2'000'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(result.load() == 1);
    // Unpaused, it times out at once.
    REQUIRE(f.monitor->unpause(*id));
    REQUIRE(eventually([&] { return result.load() != 1; }));
    CHECK(result.load() == HV_ETIMEDOUT);
}

TEST_CASE("monitor on a fake platform: a running domain's block times out when its timer fires", "[monitor][fake]") {
    std::atomic<int64_t> result{1};
    Fixture f([&](FakeVcpu& v) -> std::optional<hv::platform::VcpuExit> {
        switch (v.step++) {
        case 0: return v.hypercall(block_call(5'000'000)); // 5 ms of virtual time
        case 1: result = v.slot().result; return std::nullopt;
        default: return std::nullopt;
        }
    });
    auto id = f.monitor->create(f.config("timer2"));
    REQUIRE(id);
    REQUIRE(eventually([&] { return f.state(*id) == DomainState::blocked; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // real time: nothing
    CHECK(result.load() == 1);
    f.platform->vclock->advance(5'000'000); // nobody wakes it but its timer
    REQUIRE(eventually([&] { return result.load() != 1; }));
    CHECK(result.load() == HV_ETIMEDOUT);
}

TEST_CASE("monitor on a fake platform: a triple fault is a crash and on_crash preserve keeps it", "[monitor][fake]") {
    Fixture f([&](FakeVcpu& v) -> std::optional<hv::platform::VcpuExit> {
        if (v.step++ == 0) return hv::platform::ShutdownExit{};
        return std::nullopt;
    });
    auto cfg = f.config("faulty");
    cfg.actions.on_crash = ShutdownAction::preserve;
    auto id = f.monitor->create(cfg);
    REQUIRE(id);
    auto end = f.monitor->wait_stopped(*id, std::chrono::milliseconds(5000));
    REQUIRE(end);
    CHECK(end->state == DomainState::crashed);
    CHECK(*end->shutdown_reason == ShutdownReason::crash);
    // Still there (preserved) until destroyed.
    CHECK(f.monitor->info(*id));
    REQUIRE(f.monitor->destroy(*id));
}

TEST_CASE("monitor on a fake platform: reboot restarts it, and a reboot loop is throttled to preserve",
          "[monitor][fake]") {
    // Declared before the monitor: its worker calls the subscriber until
    // the monitor is gone.
    std::mutex mu;
    std::vector<hv::DomainEvent> events;
    const auto count = [&](hv::DomainEvent::Kind k) {
        std::lock_guard lock(mu);
        int n = 0;
        for (const auto& e : events) n += e.kind == k ? 1 : 0;
        return n;
    };
    Fixture f([&](FakeVcpu& v) -> std::optional<hv::platform::VcpuExit> {
        if (v.step++ == 0) return v.hypercall(shutdown_call(HV_SHUTDOWN_REBOOT));
        return std::nullopt;
    });
    f.monitor->subscribe([&](const hv::DomainEvent& e) {
        std::lock_guard lock(mu);
        events.push_back(e);
    });
    auto id = f.monitor->create(f.config("looper"));
    REQUIRE(id);
    // Every instance reboots at once: restarted 5 times (the burst), then
    // the sixth stop is preserved as it is.
    REQUIRE(eventually([&] { return count(hv::DomainEvent::Kind::shutdown) == 6; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50)); // nothing more comes
    CHECK(count(hv::DomainEvent::Kind::restarted) == 5);
    CHECK(count(hv::DomainEvent::Kind::shutdown) == 6);
    CHECK(f.platform->vms.load() == 6);
    auto l = f.monitor->list();
    REQUIRE(l.size() == 1);
    CHECK(l[0].state == DomainState::shutdown);
    CHECK(l[0].name == "looper");
}

TEST_CASE("monitor on a fake platform: a vCPU is brought up by vcpu_op and both count", "[monitor][fake]") {
    Fixture f([&](FakeVcpu& v) -> std::optional<hv::platform::VcpuExit> {
        if (v.id() == 0 && v.step++ == 0) {
            hv_call_t c{};
            c.group = HV_GROUP_VCPU_OP;
            c.op = HV_VCPU_OP_UP;
            hv_vcpu_up_t up{};
            up.vcpu = 1;
            up.rip = 0x101000;
            up.rsp = 0x200000;
            up.cr3 = 0x300000;
            up.code_sel = 0x10;
            up.data_sel = 0x18;
            std::memcpy(c.args, &up, sizeof up);
            return v.hypercall(c);
        }
        return std::nullopt;
    });
    auto id = f.monitor->create(f.config("pair", 2));
    REQUIRE(id);
    REQUIRE(eventually([&] { return f.monitor->info(*id)->vcpus_online == 2; }));
    REQUIRE(f.monitor->pause(*id));
    CHECK(f.state(*id) == DomainState::paused);
    REQUIRE(f.monitor->destroy(*id));
}

namespace {

hv_call_t vcpu_call(uint16_t op, const void* req, size_t len) {
    hv_call_t c{};
    c.group = HV_GROUP_VCPU_OP;
    c.op = op;
    if (len != 0) std::memcpy(c.args, req, len);
    return c;
}

hv_call_t up_call(uint32_t vcpu) {
    hv_vcpu_up_t up{};
    up.vcpu = vcpu;
    up.rip = 0x101000;
    up.rsp = 0x200000;
    up.cr3 = 0x300000;
    up.code_sel = 0x10;
    up.data_sel = 0x18;
    return vcpu_call(HV_VCPU_OP_UP, &up, sizeof up);
}

} // namespace

TEST_CASE("monitor on a fake platform: vcpu-set takes a vCPU down and brings it back up", "[monitor][fake][hotplug]") {
    // vCPU 0 starts vCPU 1, then follows the target: it reads it after each
    // HV_EVENT_VCPU_TARGET and starts vCPU 1 again when it rises. vCPU 1
    // blocks, and goes down when the target event comes.
    std::atomic<uint32_t> target_seen{0};
    std::atomic<int64_t> second_up{1};
    std::atomic<int> v1_entries{0};
    Fixture f([&](FakeVcpu& v) -> std::optional<hv::platform::VcpuExit> {
        if (v.id() == 1) {
            ++v1_entries;
            if (v.step == 2) v.step = 0; // started again: from the top
            switch (v.step++) {
            case 0: return v.hypercall(block_call(0));
            case 1: {
                const hv_vcpu_down_t down{1, 0};
                return v.hypercall(vcpu_call(HV_VCPU_OP_DOWN, &down, sizeof down));
            }
            default: return std::nullopt;
            }
        }
        switch (v.step++) {
        case 0: return v.hypercall(up_call(1));
        case 1: return v.hypercall(block_call(0));
        case 2: return v.hypercall(vcpu_call(HV_VCPU_OP_TARGET, nullptr, 0));
        case 3: {
            hv_vcpu_target_t t;
            std::memcpy(&t, v.slot().args, sizeof t);
            target_seen = t.online;
            return v.hypercall(block_call(0));
        }
        case 4: return v.hypercall(up_call(1));
        case 5: second_up = v.slot().result; return std::nullopt;
        default: return std::nullopt;
        }
    });
    auto cfg = f.config("hotplug", 2);
    auto id = f.monitor->create(cfg);
    REQUIRE(id);
    REQUIRE(eventually([&] { return f.monitor->info(*id)->vcpus_online == 2 && f.state(*id) == DomainState::blocked; }));

    // Out of range: named, nothing changes.
    auto bad = f.monitor->set_vcpus(*id, 3);
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("1..2"));
    CHECK_FALSE(f.monitor->set_vcpus(*id, 0));

    REQUIRE(f.monitor->set_vcpus(*id, 1));
    REQUIRE(eventually([&] { return f.monitor->info(*id)->vcpus_online == 1; }));
    REQUIRE(eventually([&] { return target_seen.load() == 1; }));
    const int entries_down = v1_entries.load();

    REQUIRE(f.monitor->set_vcpus(*id, 2));
    REQUIRE(eventually([&] { return f.monitor->info(*id)->vcpus_online == 2 && second_up.load() != 1; }));
    CHECK(second_up.load() == HV_OK);
    // Its thread ran it again, from the top of its program.
    REQUIRE(eventually([&] { return v1_entries.load() > entries_down; }));
    REQUIRE(f.monitor->destroy(*id));
}

TEST_CASE("monitor on a fake platform: destroy ends a domain whose vCPU is offline", "[monitor][fake][hotplug]") {
    std::atomic<bool> down_sent{false};
    Fixture f([&](FakeVcpu& v) -> std::optional<hv::platform::VcpuExit> {
        if (v.id() == 0) {
            if (v.step++ == 0) return v.hypercall(up_call(1));
            return std::nullopt;
        }
        if (v.step++ == 0) {
            down_sent = true;
            const hv_vcpu_down_t down{1, 0};
            return v.hypercall(vcpu_call(HV_VCPU_OP_DOWN, &down, sizeof down));
        }
        return std::nullopt;
    });
    auto id = f.monitor->create(f.config("gone", 2));
    REQUIRE(id);
    // vCPU 1 came up and went straight down; its thread waits offline.
    REQUIRE(eventually([&] { return down_sent.load() && f.monitor->info(*id)->vcpus_online == 1; }));
    REQUIRE(f.monitor->pause(*id)); // quiescence does not wait for it
    REQUIRE(f.monitor->destroy(*id)); // joins it: a lost stop wake-up would hang here
    CHECK_FALSE(f.monitor->info(*id));
}
