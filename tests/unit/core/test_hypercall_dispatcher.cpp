#include <catch2/catch.hpp>

#include "core/hypercall_dispatcher.hpp"
#include "fake_guest.hpp"

using hv::core::CallOutcome;
using hv::core::HypercallDispatcher;
using namespace hvtest;

namespace {
constexpr uint64_t kSlot = 0x1000;
constexpr uint64_t kBuf = 0x2000;

struct Fixture {
    FakeRam mem;
    FakeServices svc;
    HypercallDispatcher d{mem.ram(), svc};

    CallOutcome call(const hv_call_t& c, uint32_t vcpu = 0) {
        mem.slot(kSlot) = c;
        return d.dispatch(vcpu, kSlot);
    }
    hv_call_t& slot() { return mem.slot(kSlot); }
};
} // namespace

TEST_CASE_METHOD(Fixture, "version ops report versions, features and the caller", "[abi][dispatch]") {
    auto out = call(make_call(HV_GROUP_VERSION, HV_VERSION_OP_GET));
    CHECK(out.result == HV_OK);
    CHECK(slot().result == HV_OK);
    CHECK(args_of<hv_version_get_t>(slot()).abi_version == HV_ABI_VERSION);
    CHECK(args_of<hv_version_get_t>(slot()).group_count == HV_GROUP_COUNT);

    call(make_call(HV_GROUP_VERSION, HV_VERSION_OP_GROUP, hv_version_group_t{HV_GROUP_SCHED_OP, 0}));
    CHECK(slot().result == HV_OK);
    CHECK(args_of<hv_version_group_t>(slot()).version == HV_SCHED_OP_GROUP_VERSION);

    call(make_call(HV_GROUP_VERSION, HV_VERSION_OP_FEATURES));
    CHECK((args_of<hv_version_features_t>(slot()).features & HV_FEATURE_MULTICALL) != 0);

    call(make_call(HV_GROUP_VERSION, HV_VERSION_OP_SELF));
    const auto self = args_of<hv_version_self_t>(slot());
    CHECK(self.domid == 42);
    CHECK(self.max_vcpus == 4);
    CHECK(self.uuid[0] == 0xa0);
    CHECK(self.uuid[15] == 0xaf);
    CHECK(svc.bad.empty());
}

TEST_CASE_METHOD(Fixture, "console write and read move bytes between guest RAM and the console", "[abi][dispatch]") {
    std::memcpy(mem.bytes.data() + kBuf, "hello", 5);
    auto out = call(make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE, hv_console_io_t{{kBuf}, 5, 0}));
    CHECK(out.result == 5);
    CHECK(out.action == CallOutcome::Action::none);
    CHECK(svc.console == "hello");

    svc.input = "ab";
    out = call(make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_READ, hv_console_io_t{{kBuf + 100}, 16, 0}));
    CHECK(out.result == 2);
    CHECK(std::memcmp(mem.bytes.data() + kBuf + 100, "ab", 2) == 0);
    out = call(make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_READ, hv_console_io_t{{kBuf}, 16, 0}));
    CHECK(out.result == 0);
}

TEST_CASE_METHOD(Fixture, "sched ops turn into actions for the platform", "[abi][dispatch]") {
    CHECK(call(make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_YIELD)).action == CallOutcome::Action::yield);

    auto out = call(make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_BLOCK, hv_sched_block_t{1234, 0, 0, 0}));
    CHECK(out.action == CallOutcome::Action::block);
    CHECK(out.block_timeout_ns == 1234);
    CHECK(d.finish_block(kSlot, HV_EVENT_SHUTDOWN_REQUEST, HV_SHUTDOWN_REBOOT) == HV_OK);
    CHECK(slot().result == HV_OK);
    CHECK(args_of<hv_sched_block_t>(slot()).events == HV_EVENT_SHUTDOWN_REQUEST);
    CHECK(args_of<hv_sched_block_t>(slot()).shutdown_request == HV_SHUTDOWN_REBOOT);
    CHECK(d.finish_block(kSlot, 0, HV_SHUTDOWN_REBOOT) == HV_ETIMEDOUT);
    CHECK(args_of<hv_sched_block_t>(slot()).shutdown_request == 0);

    out = call(make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_SHUTDOWN, hv_sched_shutdown_t{HV_SHUTDOWN_CRASH, 0}));
    CHECK(out.action == CallOutcome::Action::shutdown);
    CHECK(out.reason == hv::core::ShutdownReason::crash);
}

TEST_CASE_METHOD(Fixture, "vcpu ops", "[abi][dispatch]") {
    call(make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_CURRENT), 3);
    CHECK(args_of<hv_vcpu_current_t>(slot()).vcpu == 3);
    CHECK(args_of<hv_vcpu_current_t>(slot()).max_vcpus == 4);

    call(make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_IS_UP, hv_vcpu_is_up_t{0, 0}));
    CHECK(args_of<hv_vcpu_is_up_t>(slot()).up == 1);
    call(make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_IS_UP, hv_vcpu_is_up_t{2, 0}));
    CHECK(args_of<hv_vcpu_is_up_t>(slot()).up == 0);

    const hv_vcpu_up_t up{2, 0x08, 0x10, 0x100000, 0x200000, 0x3000, 77};
    CHECK(call(make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_UP, up)).result == HV_OK);
    CHECK(svc.up_calls == 1);
    CHECK(svc.last_up.rip == 0x100000);
    CHECK(svc.last_up.arg == 77);

    // TARGET: the control plane's online count; DOWN: only the caller, never
    // vCPU 0, and the platform takes it offline.
    call(make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_TARGET));
    CHECK(args_of<hv_vcpu_target_t>(slot()).online == 3);
    CHECK(args_of<hv_vcpu_target_t>(slot()).max_vcpus == 4);
    CHECK(call(make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_DOWN, hv_vcpu_down_t{1, 1}), 1).result == HV_EINVAL); // padding
    CHECK(svc.bad.size() == 1);
    svc.bad.clear();
    auto out = call(make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_DOWN, hv_vcpu_down_t{2, 0}), 2);
    CHECK(out.action == CallOutcome::Action::down);
    CHECK(out.result == HV_OK);
    CHECK(svc.bad.empty());
}

TEST_CASE_METHOD(Fixture, "multicall runs every slot in one exit", "[abi][dispatch][multicall]") {
    constexpr uint64_t kArray = 0x3000;
    std::memcpy(mem.bytes.data() + kBuf, "abcdef", 6);
    mem.slot(kArray) = make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE, hv_console_io_t{{kBuf}, 3, 0});
    mem.slot(kArray + 64) = make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_YIELD);
    mem.slot(kArray + 128) = make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE, hv_console_io_t{{kBuf + 3}, 3, 0});
    auto out = call(make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{kArray}, 3, 0}));
    CHECK(out.result == 3);
    CHECK(out.action == CallOutcome::Action::yield);
    CHECK(svc.console == "abcdef");
    CHECK(mem.slot(kArray).result == 3);
    CHECK(mem.slot(kArray + 64).result == HV_OK);
    CHECK(mem.slot(kArray + 128).result == 3);
}

TEST_CASE_METHOD(Fixture, "a long multicall is preempted and the guest continues it", "[abi][dispatch][multicall]") {
    // 8 console writes of HV_CONSOLE_IO_MAX bytes: more than one exit's
    // budget. The monitor stops after the slot that crosses it; the guest
    // re-issues the rest until all have run, and the console sees every
    // byte once, in order.
    constexpr uint64_t kArray = 0x3000, kData = 0x10000;
    constexpr uint32_t kSlots = 8;
    for (uint32_t i = 0; i < kSlots; ++i) {
        std::memset(mem.bytes.data() + kData + i * HV_CONSOLE_IO_MAX, 'a' + static_cast<int>(i), HV_CONSOLE_IO_MAX);
        mem.slot(kArray + 64 * i) = make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE,
                                              hv_console_io_t{{kData + i * HV_CONSOLE_IO_MAX}, HV_CONSOLE_IO_MAX, 0});
        mem.slot(kArray + 64 * i).result = 777; // untouched until run
    }
    const uint32_t per_exit = (HV_MULTICALL_CONSOLE_BUDGET + HV_CONSOLE_IO_MAX - 1) / HV_CONSOLE_IO_MAX;
    uint32_t done_slots = 0, exits = 0;
    while (done_slots < kSlots) {
        auto out = call(make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL,
                                  hv_multicall_t{{kArray + 64ull * done_slots}, kSlots - done_slots, 0}));
        REQUIRE(out.result > 0);
        CHECK(static_cast<uint32_t>(out.result) <= per_exit);
        if (done_slots + static_cast<uint32_t>(out.result) < kSlots)
            CHECK(mem.slot(kArray + 64 * (done_slots + static_cast<uint32_t>(out.result))).result == 777);
        done_slots += static_cast<uint32_t>(out.result);
        ++exits;
    }
    CHECK(exits == (kSlots + per_exit - 1) / per_exit);
    REQUIRE(svc.console.size() == kSlots * HV_CONSOLE_IO_MAX);
    for (uint32_t i = 0; i < kSlots; ++i) CHECK(svc.console[i * HV_CONSOLE_IO_MAX] == 'a' + static_cast<int>(i));
}

TEST_CASE_METHOD(Fixture, "a shutdown inside a multicall cancels the rest", "[abi][dispatch][multicall]") {
    constexpr uint64_t kArray = 0x3000;
    mem.slot(kArray) = make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_SHUTDOWN, hv_sched_shutdown_t{HV_SHUTDOWN_REBOOT, 0});
    mem.slot(kArray + 64) = make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE, hv_console_io_t{{kBuf}, 1, 0});
    auto out = call(make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{kArray}, 2, 0}));
    CHECK(out.result == 1);
    CHECK(out.action == CallOutcome::Action::shutdown);
    CHECK(out.reason == hv::core::ShutdownReason::reboot);
    CHECK(mem.slot(kArray + 64).result == HV_ECANCELED);
    CHECK(svc.console.empty());
}

TEST_CASE_METHOD(Fixture, "malformed calls get an error code and a report, never an action", "[abi][dispatch][bad-input]") {
    struct Case {
        const char* name;
        hv_call_t call;
        int64_t want;
    };
    hv_call_t pad = make_call(HV_GROUP_VERSION, HV_VERSION_OP_GET);
    pad._pad0 = 1;
    hv_call_t tail = make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_SHUTDOWN, hv_sched_shutdown_t{0, 0});
    tail.args[5] = 1; // a byte past the request struct
    hv_call_t out_field = make_call(HV_GROUP_VERSION, HV_VERSION_OP_SELF);
    out_field.args[0] = 9; // outputs must come in zeroed
    const Case cases[] = {
        {"unknown group", make_call(77, 0), HV_ENOSYS},
        {"unknown version op", make_call(HV_GROUP_VERSION, 99), HV_ENOSYS},
        {"unknown console op", make_call(HV_GROUP_CONSOLE_IO, 9, hv_console_io_t{{kBuf}, 1, 0}), HV_ENOSYS},
        {"unknown sched op", make_call(HV_GROUP_SCHED_OP, 9), HV_ENOSYS},
        {"unknown vcpu op", make_call(HV_GROUP_VCPU_OP, 9), HV_ENOSYS},
        {"unknown multicall op", make_call(HV_GROUP_MULTICALL, 9), HV_ENOSYS},
        {"slot padding", pad, HV_EINVAL},
        {"bytes past the request", tail, HV_EINVAL},
        {"output field set on input", out_field, HV_EINVAL},
        {"yield with arguments", make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_YIELD, uint64_t{1}), HV_EINVAL},
        {"console padding", make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE, hv_console_io_t{{kBuf}, 1, 5}), HV_EINVAL},
        {"console too long", make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE, hv_console_io_t{{kBuf}, HV_CONSOLE_IO_MAX + 1, 0}), HV_E2BIG},
        {"console buffer outside RAM", make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_WRITE, hv_console_io_t{{(1 << 20) - 2}, 4, 0}), HV_EFAULT},
        {"console buffer address wraps", make_call(HV_GROUP_CONSOLE_IO, HV_CONSOLE_IO_OP_READ, hv_console_io_t{{~0ull - 1}, 4, 0}), HV_EFAULT},
        {"block padding", make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_BLOCK, hv_sched_block_t{0, 0, 0, 1}), HV_EINVAL},
        {"shutdown reason", make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_SHUTDOWN, hv_sched_shutdown_t{99, 0}), HV_EINVAL},
        {"shutdown padding", make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_SHUTDOWN, hv_sched_shutdown_t{0, 1}), HV_EINVAL},
        {"group version of unknown group", make_call(HV_GROUP_VERSION, HV_VERSION_OP_GROUP, hv_version_group_t{99, 0}), HV_ENOENT},
        {"is_up of a vcpu that does not exist", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_IS_UP, hv_vcpu_is_up_t{4, 0}), HV_ENOENT},
        {"up of a vcpu that does not exist", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_UP, hv_vcpu_up_t{1000, 8, 16, 0x1000, 0x1000, 0, 0}), HV_ENOENT},
        {"up of a running vcpu", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_UP, hv_vcpu_up_t{0, 8, 16, 0x1000, 0x1000, 0, 0}), HV_EBUSY},
        {"up with a null selector", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_UP, hv_vcpu_up_t{1, 0, 16, 0x1000, 0x1000, 0, 0}), HV_EINVAL},
        {"up with a non-canonical rip", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_UP, hv_vcpu_up_t{1, 8, 16, 0x0000900000000000ull, 0x1000, 0, 0}), HV_EINVAL},
        {"up with cr3 outside RAM", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_UP, hv_vcpu_up_t{1, 8, 16, 0x1000, 0x1000, 1ull << 32, 0}), HV_EFAULT},
        {"down of another vcpu", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_DOWN, hv_vcpu_down_t{2, 0}), HV_EINVAL},
        {"down of vcpu 0", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_DOWN, hv_vcpu_down_t{0, 0}), HV_EBUSY},

        {"target with input", make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_TARGET, hv_vcpu_target_t{1, 0}), HV_EINVAL},
        {"multicall too many", make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{0x3000}, HV_MULTICALL_MAX + 1, 0}), HV_E2BIG},
        {"multicall misaligned", make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{0x3004}, 1, 0}), HV_EFAULT},
        {"multicall outside RAM", make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{(1 << 20) - 64}, 2, 0}), HV_EFAULT},
        {"multicall padding", make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{0x3000}, 1, 1}), HV_EINVAL},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        svc.bad.clear();
        const auto out = call(c.call);
        CHECK(out.result == c.want);
        CHECK(out.action == CallOutcome::Action::none);
        CHECK(slot().result == c.want);
        REQUIRE(svc.bad.size() == 1);
        CHECK(svc.bad[0].result == c.want);
        CHECK_FALSE(svc.bad[0].why.empty());
    }
    CHECK(svc.console.empty());
    CHECK(svc.up_calls == 0);
}

TEST_CASE_METHOD(Fixture, "a slot the monitor cannot read gets HV_EFAULT in rax only", "[abi][dispatch][bad-input]") {
    CHECK(d.dispatch(0, kSlot + 4).result == HV_EFAULT);       // misaligned
    CHECK(d.dispatch(0, (1 << 20) - 32).result == HV_EFAULT);  // runs past RAM
    CHECK(d.dispatch(0, ~0ull & ~7ull).result == HV_EFAULT);   // wraps
    CHECK(svc.bad.size() == 3);
}

TEST_CASE_METHOD(Fixture, "nested multicall, block and vcpu down inside a multicall are refused per slot", "[abi][dispatch][multicall][bad-input]") {
    constexpr uint64_t kArray = 0x3000;
    mem.slot(kArray) = make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{kArray}, 1, 0});
    mem.slot(kArray + 64) = make_call(HV_GROUP_SCHED_OP, HV_SCHED_OP_BLOCK, hv_sched_block_t{});
    mem.slot(kArray + 128) = make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_CURRENT);
    mem.slot(kArray + 192) = make_call(HV_GROUP_VCPU_OP, HV_VCPU_OP_DOWN, hv_vcpu_down_t{1, 0});
    auto out = call(make_call(HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{kArray}, 4, 0}), 1);
    CHECK(out.result == 4);
    CHECK(out.action == CallOutcome::Action::none);
    CHECK(mem.slot(kArray).result == HV_EINVAL);
    CHECK(mem.slot(kArray + 64).result == HV_EINVAL);
    CHECK(mem.slot(kArray + 128).result == HV_OK);
    CHECK(args_of<hv_vcpu_current_t>(mem.slot(kArray + 128)).vcpu == 1);
    CHECK(mem.slot(kArray + 192).result == HV_EINVAL);
    CHECK(svc.bad.size() == 3);
}

TEST_CASE_METHOD(Fixture, "random slots never crash the dispatcher", "[abi][dispatch][bad-input]") {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    for (int i = 0; i < 20000; ++i) {
        hv_call_t c{};
        c.group = static_cast<uint16_t>(next() % 6);
        c.op = static_cast<uint16_t>(next() % 5);
        for (auto& w : c.args) w = (next() & 1) != 0 ? next() % (2 << 20) : 0;
        const auto out = call(c);
        CHECK((out.result >= 0 || out.result == HV_EINVAL || out.result == HV_EFAULT || out.result == HV_ENOSYS ||
               out.result == HV_E2BIG || out.result == HV_ENOENT || out.result == HV_EBUSY));
    }
}
