// hello guest, word `malformed`: a table of bad hypercalls, each with the
// error the ABI headers (and docs/abi.md) promise for it. A correct monitor
// refuses every one without side effects; none of them may stop the domain.
#include "malformed.hpp"

#include <hv/guest/hypercall.hpp>

#include "runtime.hpp"

extern "C" char kstacks[], pml4[], ap_entry[];

namespace hello {

namespace g = hv::guest;

namespace {

// Far above any RAM this machine can give a guest, so never guest RAM.
constexpr uint64_t gpa_outside_ram = 1ull << 40;

const char text[] = "malformed: this text must not appear\n";
constexpr uint32_t text_len = sizeof text - 1;

// Big enough for HV_MULTICALL_MAX + 1 slots; zero slots are harmless
// version_get calls should a monitor run them anyway.
alignas(64) hv_call_t many_slots[HV_MULTICALL_MAX + 1];

hv_call_t slot_for(unsigned group, unsigned op) {
    hv_call_t s;
    g::prepare(s, group, op);
    return s;
}

int64_t console(unsigned op, uint64_t buf, uint32_t len, uint32_t pad) {
    hv_call_t s;
    g::prepare(s, HV_GROUP_CONSOLE_IO, op, hv_console_io_t{{buf}, len, pad});
    return g::call(s);
}

// A vcpu_up request that is valid except, perhaps, for the vcpu number.
int64_t vcpu_up(uint32_t vcpu) {
    hv_vcpu_up_t up{};
    up.vcpu = vcpu;
    up.code_sel = KERNEL_CS;
    up.data_sel = KERNEL_DS;
    up.rip = reinterpret_cast<uint64_t>(ap_entry);
    up.rsp = reinterpret_cast<uint64_t>(kstacks + KSTACK_SIZE);
    up.cr3 = reinterpret_cast<uint64_t>(pml4);
    return g::vcpu_up(up);
}

int64_t multicall_raw(uint64_t calls, uint32_t count) {
    hv_call_t s;
    g::prepare(s, HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{calls}, count, 0});
    return g::call(s);
}

struct Case {
    const char* name;
    int64_t want;
    int64_t (*run)();
};

const Case cases[] = {
    {"unknown-group", HV_ENOSYS, [] {
         hv_call_t s = slot_for(99, 0);
         return g::call(s);
     }},
    {"unknown-op", HV_ENOSYS, [] {
         hv_call_t s = slot_for(HV_GROUP_VERSION, 99);
         return g::call(s);
     }},
    {"slot-outside-ram", HV_EFAULT, [] { return g::call_gpa(gpa_outside_ram); }},
    {"slot-misaligned", HV_EFAULT, [] {
         alignas(16) unsigned char buf[sizeof(hv_call_t) + 8];
         const hv_call_t s = slot_for(HV_GROUP_SCHED_OP, HV_SCHED_OP_YIELD); // valid but for its address
         __builtin_memcpy(buf + 4, &s, sizeof s);
         return g::call_gpa(g::gpa_of(buf + 4));
     }},
    {"slot-pad0", HV_EINVAL, [] {
         hv_call_t s = slot_for(HV_GROUP_SCHED_OP, HV_SCHED_OP_YIELD);
         s._pad0 = 1;
         return g::call(s);
     }},
    {"args-past-struct", HV_EINVAL, [] {
         hv_call_t s;
         g::prepare(s, HV_GROUP_VERSION, HV_VERSION_OP_GROUP, hv_version_group_t{HV_GROUP_VERSION, 0});
         s.args[1] = 1; // first byte past the 8-byte hv_version_group_t
         return g::call(s);
     }},
    {"console-buf-outside-ram", HV_EFAULT,
     [] { return console(HV_CONSOLE_IO_OP_WRITE, gpa_outside_ram, 4, 0); }},
    {"console-len-too-big", HV_E2BIG,
     [] { return console(HV_CONSOLE_IO_OP_WRITE, g::gpa_of(text), HV_CONSOLE_IO_MAX + 1, 0); }},
    {"console-pad0", HV_EINVAL, [] { return console(HV_CONSOLE_IO_OP_WRITE, g::gpa_of(text), text_len, 1); }},
    {"console-read-outside-ram", HV_EFAULT,
     [] { return console(HV_CONSOLE_IO_OP_READ, gpa_outside_ram, 4, 0); }},
    {"shutdown-bad-reason", HV_EINVAL, [] { return g::shutdown(99); }},
    {"shutdown-pad0", HV_EINVAL, [] {
         hv_call_t s;
         g::prepare(s, HV_GROUP_SCHED_OP, HV_SCHED_OP_SHUTDOWN, hv_sched_shutdown_t{HV_SHUTDOWN_CRASH, 1});
         return g::call(s);
     }},
    {"block-pad0", HV_EINVAL, [] {
         hv_sched_block_t b{};
         b.timeout_ns = 1000000; // a monitor that accepts it still returns
         b._pad0 = 1;
         hv_call_t s;
         g::prepare(s, HV_GROUP_SCHED_OP, HV_SCHED_OP_BLOCK, b);
         return g::call(s);
     }},
    {"vcpu-up-no-such-vcpu", HV_ENOENT, [] { return vcpu_up(1000); }},
    {"vcpu-up-already-up", HV_EBUSY, [] { return vcpu_up(0); }},
    {"vcpu-is-up-no-such-vcpu", HV_ENOENT, [] {
         bool up;
         return g::vcpu_is_up(1000, up);
     }},
    {"multicall-too-many", HV_E2BIG, [] { return g::multicall(many_slots, HV_MULTICALL_MAX + 1); }},
    {"multicall-array-outside-ram", HV_EFAULT, [] { return multicall_raw(gpa_outside_ram, 1); }},
    {"multicall-array-misaligned", HV_EFAULT, [] { return multicall_raw(g::gpa_of(many_slots) + 4, 1); }},
    {"multicall-nested", HV_EINVAL, [] {
         hv_call_t inner = slot_for(HV_GROUP_SCHED_OP, HV_SCHED_OP_YIELD);
         hv_call_t slots[2];
         g::prepare(slots[0], HV_GROUP_VERSION, HV_VERSION_OP_GET, hv_version_get_t{});
         g::prepare(slots[1], HV_GROUP_MULTICALL, HV_MULTICALL_OP_CALL, hv_multicall_t{{g::gpa_of(&inner)}, 1, 0});
         g::multicall(slots, 2);
         return slots[1].result; // the slot's own result
     }},
    {"multicall-block", HV_EINVAL, [] {
         hv_sched_block_t b{};
         b.timeout_ns = 1000000;
         hv_call_t slots[1];
         g::prepare(slots[0], HV_GROUP_SCHED_OP, HV_SCHED_OP_BLOCK, b);
         g::multicall(slots, 1);
         return slots[0].result;
     }},
    {"version-group-unknown", HV_ENOENT, [] {
         uint32_t version;
         return g::version_group(99, version);
     }},
};

} // namespace

void run_malformed() {
    uint32_t ok = 0;
    constexpr auto total = static_cast<uint32_t>(sizeof cases / sizeof cases[0]);
    for (const Case& c : cases) {
        const int64_t got = c.run();
        Line l;
        l.str("malformed: ").str(c.name);
        if (got == c.want) {
            ++ok;
            l.str(" ok");
        } else {
            l.str(" FAILED got ").dec(got).str(" want ").dec(c.want);
        }
        say(l);
    }
    Line l;
    l.str("malformed: ").udec(ok).ch('/').udec(total).str(" ok");
    say(l);
}

} // namespace hello
