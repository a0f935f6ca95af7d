// The freestanding link test: the core library, built with no hosted
// headers (-nostdinc) and linked with -nostdlib, plus only the runtime
// symbols documented in docs/architecture.md (defined below). Any other
// undefined symbol fails the link; the checks below then run the core's
// domain table and hypercall dispatcher with no OS underneath.
#include <stddef.h>
#include <stdint.h>

#include "core/domain_policy.hpp"
#include "core/domain_table.hpp"
#include "core/hypercall_dispatcher.hpp"
#include "core/vcpu_state.hpp"

// ---- the documented runtime list ----
extern "C" {
void* memcpy(void* d, const void* s, size_t n) {
    auto* dp = static_cast<volatile uint8_t*>(d);
    const auto* sp = static_cast<const uint8_t*>(s);
    for (size_t i = 0; i < n; ++i) dp[i] = sp[i];
    return d;
}
void* memset(void* d, int c, size_t n) {
    auto* dp = static_cast<volatile uint8_t*>(d);
    for (size_t i = 0; i < n; ++i) dp[i] = static_cast<uint8_t>(c);
    return d;
}
void* memmove(void* d, const void* s, size_t n) {
    auto* dp = static_cast<volatile uint8_t*>(d);
    const auto* sp = static_cast<const uint8_t*>(s);
    if (dp < sp) for (size_t i = 0; i < n; ++i) dp[i] = sp[i];
    else for (size_t i = n; i > 0; --i) dp[i - 1] = sp[i - 1];
    return d;
}
int memcmp(const void* a, const void* b, size_t n) {
    const auto* x = static_cast<const uint8_t*>(a);
    const auto* y = static_cast<const uint8_t*>(b);
    for (size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
void __cxa_pure_virtual() { __builtin_trap(); }
}

namespace {

[[noreturn]] void exit_with(long code) {
    asm volatile("syscall" ::"a"(60L), "D"(code) : "rcx", "r11", "memory");
    __builtin_unreachable();
}

class Services final : public hv::core::DomainServices {
public:
    uint32_t domid() const override { return 7; }
    void uuid(uint8_t out[16]) const override { for (int i = 0; i < 16; ++i) out[i] = static_cast<uint8_t>(i); }
    uint32_t max_vcpus() const override { return 2; }
    void console_write(const uint8_t*, uint32_t len) override { written += len; }
    uint32_t console_read(uint8_t*, uint32_t) override { return 0; }
    bool vcpu_is_up(uint32_t v) const override { return v == 0; }
    int64_t vcpu_up(uint32_t, const hv_vcpu_up_t&) override { return HV_OK; }
    uint32_t vcpu_target() const override { return 1; }
    void bad_call(uint32_t, uint32_t, uint32_t, int64_t, const char*) override { ++bad; }
    uint32_t written = 0;
    uint32_t bad = 0;
};

// The policy's side of the platform port, as a ring-0 image would give it.
class Platform final : public hv::core::Platform {
public:
    uint64_t now_ns() const override { return now; }
    void kick(uint32_t) override { ++kicks; }
    void wake(uint32_t) override { ++wakes; }
    void set_timer(uint32_t, uint64_t deadline_ns) override { timer = deadline_ns; }
    uint64_t now = 100;
    uint64_t timer = 0;
    uint32_t kicks = 0;
    uint32_t wakes = 0;
};

alignas(4096) uint8_t ram_bytes[64 * 1024];
hv::core::DomainPolicy policy; // large (per-vCPU records): not on the stack

long run_checks() {
    hv::core::DomainTable table;
    const uint8_t uuid[16] = {};
    uint32_t id = 0;
    if (table.add("web", 3, uuid, id) != hv::core::TableError::ok || id != 1) return 10;
    if (table.add("web", 3, uuid, id) != hv::core::TableError::name_taken) return 11;
    if (table.find_by_name("web", 3) == nullptr) return 12;

    hv::core::VcpuState s = hv::core::VcpuState::offline;
    if (!hv::core::vcpu_apply(s, hv::core::VcpuEvent::start) || hv::core::vcpu_apply(s, hv::core::VcpuEvent::wake)) return 20;

    Services svc;
    hv::core::GuestRam ram{ram_bytes, sizeof ram_bytes};
    hv::core::HypercallDispatcher d(ram, svc);
    auto* call = reinterpret_cast<hv_call_t*>(ram_bytes + 0x100);
    call->group = HV_GROUP_CONSOLE_IO;
    call->op = HV_CONSOLE_IO_OP_WRITE;
    hv_console_io_t io{};
    io.buf.addr = 0x1000;
    io.len = 5;
    memcpy(call->args, &io, sizeof io);
    if (d.dispatch(0, 0x100).result != 5 || call->result != 5 || svc.written != 5) return 30;
    call->group = 99;
    if (d.dispatch(0, 0x100).result != HV_ENOSYS || svc.bad != 1) return 31;
    if (d.dispatch(0, sizeof ram_bytes).result != HV_EFAULT) return 32;

    // The policy drives the platform: a block arms the vCPU's timer, a
    // raise wakes it, a stop kicks and wakes.
    Platform plat;
    if (!policy.init(plat, 2, 1) || !policy.start(0) || !policy.may_enter(0)) return 40;
    policy.enter(0);
    hv::core::CallOutcome block;
    block.action = hv::core::CallOutcome::Action::block;
    block.block_timeout_ns = 50;
    if (policy.on_call(0, block).kind != hv::core::Step::Kind::park || plat.timer != 150) return 41;
    policy.raise(HV_EVENT_CONSOLE_INPUT);
    if (plat.wakes < 2 || policy.check(0).kind != hv::core::Wake::Kind::resume) return 42;
    if (!policy.set_target(2) || policy.target() != 2) return 43;
    if (!policy.stop(hv::core::ShutdownReason::poweroff, false) || policy.bad_moves() != 0) return 44;
    return 0;
}

} // namespace

extern "C" [[noreturn]] void stub_main() { exit_with(run_checks()); }

// The kernel enters _start with rsp 16-byte aligned; a C++ function
// expects it 8 off that (as after a call), so enter through a call.
asm(".globl _start\n_start:\n  and $-16, %rsp\n  call stub_main\n  hlt\n");
