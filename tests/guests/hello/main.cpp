// hello guest: the ring-3 part (and the ring-0 exception reporter).
//
// boot.S irets to bsp_main(start_info) on vCPU 0 and to ap_main(id) on the
// vCPUs the BSP starts with vcpu_up. See ../README.md for the command line
// and the exact lines printed.
#include <hv/guest/hypercall.hpp>

#include "malformed.hpp"
#include "runtime.hpp"

using namespace hello;
namespace g = hv::guest;

// Symbols from boot.S.
extern "C" char kstacks[], ustacks[], pml4[], ap_entry[], gdt[];
extern "C" [[noreturn]] void ap_main(uint64_t id);

// struct hvm_start_info (Xen's arch-x86/hvm/start_info.h), the fields used.
struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
constexpr uint32_t hvm_start_magic = 0x336ec578;

namespace {

struct Options {
    uint32_t reason = HV_SHUTDOWN_POWEROFF;
    bool stay = false;
    bool ignore_shutdown = false;
    bool malformed = false;
    bool fault = false;
    bool triple = false;
    bool bench = false;           // bench-hypercalls=N given
    uint32_t bench_hypercalls = 0; // N
    uint32_t chatter = 0;          // chatter=N: N bytes to the 16550, one port write each
    bool spin = false;             // after the banner, every vCPU computes in ring 3 forever
};

Options g_opts;
uint32_t g_domid;
uint32_t g_max_vcpus;
uint32_t g_vcpus_done; // bumped atomically by each vCPU after its checks
uint32_t g_leaving[MAX_VCPUS]; // 1 while a vCPU decides whether to go down, and after

bool word_is(const char* w, uint32_t n, const char* lit) {
    uint32_t i = 0;
    for (; i < n; ++i)
        if (lit[i] != w[i]) return false;
    return lit[i] == 0;
}

// "<prefix><decimal>" with the value in 0..2^32-1: sets `value`.
bool word_number(const char* w, uint32_t n, const char* prefix, uint32_t& value) {
    uint32_t i = 0;
    for (; prefix[i] != 0; ++i)
        if (i >= n || w[i] != prefix[i]) return false;
    if (i == n) return false;
    uint64_t v = 0;
    for (; i < n; ++i) {
        if (w[i] < '0' || w[i] > '9') return false;
        v = v * 10 + static_cast<uint64_t>(w[i] - '0');
        if (v > 0xffffffffull) return false;
    }
    value = static_cast<uint32_t>(v);
    return true;
}

// Parses the command line into g_opts; unknown words are reported later
// (output needs detect() first) through `unknown`.
void parse_cmdline(const char* p, Line& unknown) {
    static const char* const reasons[] = {"poweroff", "reboot", "suspend", "crash"};
    while (*p != 0) {
        while (*p == ' ' || *p == '\t' || *p == '\n') ++p;
        const char* w = p;
        while (*p != 0 && *p != ' ' && *p != '\t' && *p != '\n') ++p;
        const auto n = static_cast<uint32_t>(p - w);
        if (n == 0) break;
        bool known = true;
        if (word_is(w, n, "stay")) g_opts.stay = true;
        else if (word_is(w, n, "spin")) g_opts.spin = true;
        else if (word_is(w, n, "ignore-shutdown")) g_opts.ignore_shutdown = true;
        else if (word_is(w, n, "malformed")) g_opts.malformed = true;
        else if (word_is(w, n, "fault")) g_opts.fault = true;
        else if (word_is(w, n, "triple")) g_opts.triple = true;
        else if (word_number(w, n, "bench-hypercalls=", g_opts.bench_hypercalls)) g_opts.bench = true;
        else if (word_number(w, n, "chatter=", g_opts.chatter)) {
        }
        else {
            known = false;
            for (uint32_t r = 0; r < HV_SHUTDOWN_REASON_COUNT; ++r)
                if (word_is(w, n, reasons[r])) {
                    g_opts.reason = r; // reasons[] follows HV_SHUTDOWN_* numbering
                    known = true;
                }
        }
        if (!known) unknown.str(" ").str(w, n);
    }
}

int64_t start_ap(uint32_t id);
void follow_target(uint32_t vcpu);

// Shutdown requests reach whichever vCPU's block takes the domain's events;
// that vCPU answers it, on behalf of the domain. A new vCPU target reaches
// every up vCPU, and each follows it (follow_target).
void handle_events(uint32_t vcpu, const hv_sched_block_t& b) {
    if ((b.events & HV_EVENT_VCPU_TARGET) != 0) follow_target(vcpu);
    if ((b.events & HV_EVENT_SHUTDOWN_REQUEST) == 0) return;
    if (g_opts.ignore_shutdown) {
        say("hello: ignoring shutdown request");
        return;
    }
    Line l;
    l.str("hello: shutdown requested: ").str(reason_name(b.shutdown_request));
    say(l);
    const int64_t r = g::shutdown(b.shutdown_request);
    Line e;
    e.str("hello: shutdown(").udec(b.shutdown_request).str(") failed: ").dec(r);
    fail(e);
}

// Blocks with no timeout forever, answering events.
[[noreturn]] void block_forever(uint32_t vcpu) {
    for (;;) {
        hv_sched_block_t b;
        const int64_t r = g::block(0, b);
        if (r == HV_OK) handle_events(vcpu, b);
        else if (r != HV_ETIMEDOUT) {
            Line l;
            l.str("hello: vcpu ").udec(vcpu).str(" block failed: ").dec(r);
            fail(l);
        }
    }
}

// What every vCPU does: banner, yield, a 1 ms block, then check in (and
// only then act on events the block took, so a vCPU that goes down at
// once still counts as having come up).
void vcpu_common(uint32_t vcpu) {
    Line l;
    l.str("hello from domain ").udec(g_domid).str(" vcpu ").udec(vcpu).str(" of ").udec(g_max_vcpus);
    say(l);
    int64_t r = g::yield();
    if (r != HV_OK) {
        Line e;
        e.str("hello: vcpu ").udec(vcpu).str(" yield failed: ").dec(r);
        fail(e);
    }
    hv_sched_block_t b;
    r = g::block(1000000, b);
    if (r != HV_OK && r != HV_ETIMEDOUT) {
        Line e;
        e.str("hello: vcpu ").udec(vcpu).str(" block(1 ms) failed: ").dec(r);
        fail(e);
    }
    __atomic_fetch_add(&g_vcpus_done, 1u, __ATOMIC_SEQ_CST);
    if (r == HV_OK) handle_events(vcpu, b);
}

// xl vcpu-set, as a Linux guest follows cpu/N/availability: vCPU 0 starts
// the vCPUs below the target that are down; a vCPU at or past it takes
// itself down (and is started afresh, at ap_main, if the target rises).
hv_vcpu_target_t read_target() {
    hv_vcpu_target_t t;
    const int64_t r = g::vcpu_target(t);
    if (r != HV_OK) {
        Line e;
        e.str("hello: vcpu target failed: ").dec(r);
        fail(e);
    }
    return t;
}

void follow_target(uint32_t vcpu) {
    if (vcpu != 0) {
        // Says it may be leaving before it reads the target: vCPU 0, which
        // may have read a newer target, then waits for it to go down
        // instead of taking it for up and skipping it.
        __atomic_store_n(&g_leaving[vcpu], 1u, __ATOMIC_SEQ_CST);
        const hv_vcpu_target_t t = read_target();
        if (vcpu < t.online) {
            __atomic_store_n(&g_leaving[vcpu], 0u, __ATOMIC_SEQ_CST);
            return;
        }
        Line l;
        l.str("hello: vcpu ").udec(vcpu).str(" going offline (target ").udec(t.online).str(")");
        say(l);
        const int64_t r = g::vcpu_down(vcpu);
        Line e;
        e.str("hello: vcpu_down ").udec(vcpu).str(" failed: ").dec(r);
        fail(e);
    }
    for (bool again = true; again;) {
        again = false;
        const hv_vcpu_target_t t = read_target();
        Line l;
        l.str("hello: vcpu target ").udec(t.online);
        say(l);
        const uint32_t n = t.online < MAX_VCPUS ? t.online : MAX_VCPUS;
        for (uint32_t id = 1; id < n; ++id) {
            bool up = true;
            int64_t r = g::vcpu_is_up(id, up);
            // One on its way down (it read an older target): wait until it
            // is down (at most ~1 s), then start it again. Events the waits
            // take are answered: a shutdown at once, a newer target by
            // going round again.
            for (uint32_t tries = 0;
                 r == HV_OK && up && __atomic_load_n(&g_leaving[id], __ATOMIC_SEQ_CST) != 0 && tries < 1000; ++tries) {
                hv_sched_block_t b;
                if (g::block(1000000, b) == HV_OK) {
                    again = again || (b.events & HV_EVENT_VCPU_TARGET) != 0;
                    b.events &= ~HV_EVENT_VCPU_TARGET;
                    handle_events(0, b);
                }
                r = g::vcpu_is_up(id, up);
            }
            if (r == HV_OK && !up) r = start_ap(id);
            if (r < 0) {
                Line e;
                e.str("hello: vcpu_up ").udec(id).str(" failed: ").dec(r);
                fail(e);
            }
        }
    }
}

// Starts vCPU `id` at ap_entry with its ring-0 stack holding [its TSS
// selector][an iretq frame to ap_main(id) on its ring-3 stack]. A vCPU
// started again after vcpu_down left its TSS descriptor busy (ltr marks
// it), and ltr of a busy TSS faults: its type goes back to available first.
int64_t start_ap(uint32_t id) {
    __atomic_store_n(&g_leaving[id], 0u, __ATOMIC_SEQ_CST);
    volatile uint8_t* tss_type = reinterpret_cast<uint8_t*>(gdt) + TSS_SEL0 + 16 * id + 5;
    *tss_type = static_cast<uint8_t>(*tss_type & ~0x02u);
    auto* top = reinterpret_cast<uint64_t*>(kstacks + KSTACK_SIZE * (id + 1));
    uint64_t* frame = top - 6;
    frame[0] = TSS_SEL0 + 16 * id;
    frame[1] = reinterpret_cast<uint64_t>(&ap_main);
    frame[2] = USER_CS;
    frame[3] = USER_RFLAGS;
    frame[4] = reinterpret_cast<uint64_t>(ustacks + USTACK_SIZE * (id + 1) - 8);
    frame[5] = USER_DS;
    hv_vcpu_up_t up{};
    up.vcpu = id;
    up.code_sel = KERNEL_CS;
    up.data_sel = KERNEL_DS;
    up.rip = reinterpret_cast<uint64_t>(ap_entry);
    up.rsp = reinterpret_cast<uint64_t>(frame);
    up.cr3 = reinterpret_cast<uint64_t>(pml4);
    up.arg = id;
    return g::vcpu_up(up);
}

// Waits for `n` vCPUs to check in: spins (ring 3 is native speed), and
// between spins blocks 1 ms so a monitor that runs fewer vCPUs than it has
// threads still gets the others going. Gives up after about 10 s.
void wait_for_vcpus(uint32_t n) {
    for (uint32_t rounds = 0;; ++rounds) {
        for (uint32_t spin = 0; spin < (1u << 16); ++spin) {
            if (__atomic_load_n(&g_vcpus_done, __ATOMIC_ACQUIRE) >= n) return;
            cpu_relax();
        }
        if (rounds == 10000) {
            Line l;
            l.str("hello: timed out waiting for vcpus: ").udec(__atomic_load_n(&g_vcpus_done, __ATOMIC_ACQUIRE));
            l.str(" of ").udec(n);
            fail(l);
        }
        hv_sched_block_t b;
        if (g::block(1000000, b) == HV_OK) handle_events(0, b);
    }
}

// "hello: <n> vcpus up, yield ok, block ok" as two console writes in one multicall.
void report_up(uint32_t n) {
    Line a;
    a.str("hello: ").udec(n).str(" vcpus up,");
    static const char tail[] = " yield ok, block ok\n";
    hv_call_t slots[2];
    g::prepare_console_write(slots[0], a.buf, a.len);
    g::prepare_console_write(slots[1], tail, sizeof tail - 1);
    const int64_t r = g::multicall(slots, 2);
    if (r != 2 || slots[0].result != int64_t{a.len} || slots[1].result != int64_t{sizeof tail - 1}) {
        Line e;
        e.str("hello: multicall failed: ").dec(r).str(" results ").dec(slots[0].result).str(" ").dec(slots[1].result);
        fail(e);
    }
}

// bench-hypercalls=N: N version_get hypercalls back to back (the monitor's
// round trip, measured by bench/hypercall_round_trip), then one line.
void bench_hypercalls(uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) {
        hv_version_get_t v;
        const int64_t r = g::version_get(v);
        if (r != HV_OK) {
            Line e;
            e.str("hello: bench hypercall ").udec(i).str(" failed: ").dec(r);
            fail(e);
        }
    }
    Line l;
    l.str("hello: bench-hypercalls ").udec(count).str(" done");
    say(l);
}

// chatter=N: N bytes of "chatter " lines through the 16550, one exit per
// byte (what console coalescing is tested with), then one line.
void chatter(uint32_t count) {
    static const char text[] = "chatter 0123456789abcdefghijklmnopqrstuvwxyz\n";
    for (uint32_t i = 0; i < count; ++i) serial_write(&text[i % (sizeof text - 1)], 1);
    Line l;
    l.str("hello: chatter ").udec(count).str(" done");
    say(l);
}

[[noreturn]] void not_on_hv() {
    say("hello: not running on hv");
    say("hello from domain 0 vcpu 0 of 1");
    triple_fault();
}

// spin: CPU-bound work in ring 3 with no exits (no PAUSE, no I/O), for
// the scheduler's benchmarks: only the host can take the CPU away.
[[noreturn]] void spin_forever() {
    volatile uint64_t work = 0;
    for (;;) work = work + 1;
}

} // namespace

extern "C" [[noreturn]] void ap_main(uint64_t id) {
    const auto vcpu = static_cast<uint32_t>(id);
    vcpu_common(vcpu);
    if (g_opts.spin) spin_forever();
    block_forever(vcpu);
}

extern "C" [[noreturn]] void bsp_main(const HvmStartInfo* si) {
    Line unknown;
    const bool si_ok = si != nullptr && si->magic == hvm_start_magic;
    if (si_ok && si->cmdline_paddr != 0) parse_cmdline(reinterpret_cast<const char*>(si->cmdline_paddr), unknown);

    g_on_hv = g::detect();
    if (!g_on_hv) not_on_hv();

    static const char serial_up[] = "hello: serial 16550 up\n";
    serial_write(serial_up, sizeof serial_up - 1);
    if (!si_ok) say("hello: bad hvm_start_info, using defaults");
    if (unknown.len != 0) {
        Line l;
        l.str("hello: ignoring unknown words:").str(unknown.buf, unknown.len);
        say(l);
    }

    hv_version_self_t self;
    int64_t r = g::self(self);
    if (r != HV_OK) {
        Line e;
        e.str("hello: version self failed: ").dec(r);
        fail(e);
    }
    g_domid = self.domid;
    g_max_vcpus = self.max_vcpus;
    // The vCPUs to bring up: the control plane's target (vcpus=, of
    // maxvcpus=); the rest stay down until a vcpu-set asks for them.
    hv_vcpu_target_t target;
    r = g::vcpu_target(target);
    if (r != HV_OK) {
        Line e;
        e.str("hello: vcpu target failed: ").dec(r);
        fail(e);
    }
    const uint32_t n = target.online < MAX_VCPUS ? target.online : MAX_VCPUS;
    if (n < target.online) {
        Line l;
        l.str("hello: starting only ").udec(n).str(" of ").udec(target.online).str(" vcpus");
        say(l);
    }

    for (uint32_t id = 1; id < n; ++id) {
        r = start_ap(id);
        if (r < 0) {
            Line e;
            e.str("hello: vcpu_up ").udec(id).str(" failed: ").dec(r);
            fail(e);
        }
    }
    vcpu_common(0);
    wait_for_vcpus(n);
    report_up(n);

    if (g_opts.bench) bench_hypercalls(g_opts.bench_hypercalls);
    if (g_opts.chatter != 0) chatter(g_opts.chatter);
    if (g_opts.malformed) run_malformed();
    if (g_opts.fault) asm volatile("ud2");
    if (g_opts.triple) triple_fault();
    if (g_opts.spin) {
        say("hello: spinning");
        spin_forever();
    }
    if (g_opts.stay) block_forever(0);

    Line l;
    l.str("hello: shutting down: ").str(reason_name(g_opts.reason));
    say(l);
    r = g::shutdown(g_opts.reason);
    Line e;
    e.str("hello: shutdown failed: ").dec(r);
    fail(e);
}

// Called in ring 0 by boot.S's exception stubs (on the vCPU's ring-0 stack).
extern "C" [[noreturn]] void exception_report(uint64_t vector, uint64_t error, uint64_t rip, uint64_t cs) {
    (void)error;
    (void)cs;
    if (!g_on_hv) g_on_hv = g::detect(); // may fault before bsp_main set it
    Line l;
    l.str("hello: exception ").udec(vector).str(" at ").hex(rip);
    fail(l);
}
