// blkbench guest: a virtio-blk driver in ring 3, for bench/virtio_blk.
//
// It boots like the hello guest (hello/boot.S built with HV_PC_GUEST: no
// hv ABI note, so hv runs it on its PC machine, with PCI and virtio) and
// then does, from ring 3 at native speed, what a stock driver would: find
// the first virtio-blk function on bus 0 by configuration ports, walk its
// capabilities, negotiate VERSION_1 only, set up one split queue and keep
// `depth` requests in flight, polling the used ring (no interrupts: the
// guest's own overhead stays near zero, so what is measured is hv's path).
// Before each phase it prints "PHASE name ready" and waits for a byte on
// the serial console (the host drops its page cache, starts its clock and
// sends it); at the end it prints "PHASE name end ..." and the host stops
// the clock when the line arrives. A write phase ends with a FLUSH, so its
// data is on stable storage, as the host's O_DIRECT baseline's is.
//
// Command line: "seq_mib=N depth_seq=D rand_ops=N depth_rand=D" (defaults
// below). Phases: seqwrite (1 MiB writes over the first seq_mib MiB),
// seqread (the same range, 1 MiB reads), randread (4 KiB reads at random
// 4 KiB-aligned offsets in that range). Then it powers off through ACPI.
#include <stdint.h>

#include "../hello/pc_io.hpp"
#include "../hello/runtime.hpp"

using hello::Line;
using hello::say;
using namespace hello::pc;

namespace {

struct HvmStartInfo {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};
constexpr uint32_t kHvmStartMagic = 0x336ec578;

[[noreturn]] void die(const char* what) {
    Line l;
    l.str("blkbench: FAILED: ").str(what);
    hello::fail(l);
}

// ---- the split queue, in guest RAM at fixed places (identity-mapped) -----

constexpr uint16_t kQueueSize = 128;
constexpr uint64_t kDescGpa = 0x800000;   // 16 bytes x 128
constexpr uint64_t kAvailGpa = 0x801000;  // 4 + 2 x 128
constexpr uint64_t kUsedGpa = 0x802000;   // 4 + 8 x 128
constexpr uint64_t kHeaderGpa = 0x803000; // 16 bytes per request slot, then its status byte
constexpr uint64_t kBufGpa = 0x1000000;   // data: 1 MiB per request slot
constexpr uint32_t kSlots = kQueueSize / 3; // three descriptors per request
constexpr uint32_t kBig = 1u << 20;

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
constexpr uint16_t kDescNext = 1, kDescWrite = 2;

Desc* const desc = reinterpret_cast<Desc*>(kDescGpa);
volatile uint16_t* const avail = reinterpret_cast<volatile uint16_t*>(kAvailGpa); // flags, idx, ring[]
volatile uint16_t* const used16 = reinterpret_cast<volatile uint16_t*>(kUsedGpa); // flags, idx
volatile uint32_t* const used_ring = reinterpret_cast<volatile uint32_t*>(kUsedGpa + 4); // {id, len} pairs

struct Device {
    uint64_t common = 0, notify = 0, device = 0;
    uint32_t notify_mult = 0;
    uint64_t sectors = 0;
    uint64_t notify_addr = 0; // queue 0's
};

uint16_t avail_idx = 0, used_seen = 0;

uint64_t header_of(uint32_t slot) { return kHeaderGpa + 32 * slot; }

// Request slot `slot` (descriptors 3*slot .. 3*slot+2) for `bytes` at `sector`.
void post(uint32_t slot, bool write, uint64_t sector, uint32_t bytes) {
    auto* hdr = reinterpret_cast<volatile uint32_t*>(header_of(slot));
    hdr[0] = write ? 1 : 0; // VIRTIO_BLK_T_OUT / IN
    hdr[1] = 0;
    *reinterpret_cast<volatile uint64_t*>(header_of(slot) + 8) = sector;
    *reinterpret_cast<volatile uint8_t*>(header_of(slot) + 16) = 0xff;
    const uint16_t d = static_cast<uint16_t>(3 * slot);
    desc[d] = Desc{header_of(slot), 16, kDescNext, static_cast<uint16_t>(d + 1)};
    desc[d + 1] = Desc{kBufGpa + uint64_t{slot} * kBig, bytes, static_cast<uint16_t>(kDescNext | (write ? 0 : kDescWrite)),
                       static_cast<uint16_t>(d + 2)};
    desc[d + 2] = Desc{header_of(slot) + 16, 1, kDescWrite, 0};
    avail[2 + avail_idx % kQueueSize] = d;
    asm volatile("" ::: "memory"); // x86 keeps stores in order; the compiler must too
    avail[1] = ++avail_idx;
}

void kick(const Device& dev) { mmio_write<uint16_t>(dev.notify_addr, 0); }

// Waits for one used chain; returns its request slot.
uint32_t reap() {
    while (used16[1] == used_seen) hello::cpu_relax();
    asm volatile("" ::: "memory");
    const uint32_t id = used_ring[2 * (used_seen % kQueueSize)];
    ++used_seen;
    const uint32_t slot = id / 3;
    if (*reinterpret_cast<volatile uint8_t*>(header_of(slot) + 16) != 0) die("a request ended with an error status");
    return slot;
}

Device probe() {
    uint32_t slot = 1;
    for (; slot < 32; ++slot)
        if (cfg_read(slot << 3, 0) == 0x10421af4) break; // virtio 1.x block
    if (slot == 32) die("no virtio-blk function on bus 0");
    // BAR0, 64-bit memory, placed by hv; decoding and bus mastering on.
    const uint64_t bar = (cfg_read(slot << 3, 0x10) & ~0xfu) | (uint64_t{cfg_read(slot << 3, 0x14)} << 32);
    cfg_write32(slot << 3, 0x04, 0x6);
    Device dev;
    for (uint32_t cap = cfg_read(slot << 3, 0x34) & 0xff; cap != 0; cap = (cfg_read(slot << 3, cap) >> 8) & 0xff) {
        if ((cfg_read(slot << 3, cap) & 0xff) != 0x09) continue; // vendor-specific: virtio
        const uint32_t type = (cfg_read(slot << 3, cap) >> 24) & 0xff;
        const uint64_t at = bar + cfg_read(slot << 3, cap + 8);
        if (type == 1) dev.common = at;
        if (type == 2) {
            dev.notify = at;
            dev.notify_mult = cfg_read(slot << 3, cap + 16);
        }
        if (type == 4) dev.device = at;
    }
    if (dev.common == 0 || dev.notify == 0 || dev.device == 0) die("virtio capabilities missing");
    const uint64_t c = dev.common;
    mmio_write<uint8_t>(c + 0x14, 0);     // reset
    mmio_write<uint8_t>(c + 0x14, 1 | 2); // ACKNOWLEDGE | DRIVER
    mmio_write<uint32_t>(c + 0x08, 1);    // driver features, high half
    mmio_write<uint32_t>(c + 0x0c, 1);    // VERSION_1 (bit 32) only
    mmio_write<uint32_t>(c + 0x08, 0);
    mmio_write<uint32_t>(c + 0x0c, 0);
    mmio_write<uint8_t>(c + 0x14, 1 | 2 | 8); // FEATURES_OK
    if ((mmio_read<uint8_t>(c + 0x14) & 8) == 0) die("FEATURES_OK refused");
    mmio_write<uint16_t>(c + 0x16, 0); // queue 0
    if (mmio_read<uint16_t>(c + 0x18) < kQueueSize) die("queue too small");
    mmio_write<uint16_t>(c + 0x18, kQueueSize);
    // 64-bit registers in two halves, as Linux writes them.
    const auto put64 = [](uint64_t at, uint64_t v) {
        mmio_write<uint32_t>(at, static_cast<uint32_t>(v));
        mmio_write<uint32_t>(at + 4, static_cast<uint32_t>(v >> 32));
    };
    put64(c + 0x20, kDescGpa);
    put64(c + 0x28, kAvailGpa);
    put64(c + 0x30, kUsedGpa);
    mmio_write<uint16_t>(c + 0x1c, 1); // enable
    dev.notify_addr = dev.notify + uint64_t{mmio_read<uint16_t>(c + 0x1e)} * dev.notify_mult;
    mmio_write<uint8_t>(c + 0x14, 1 | 2 | 8 | 4); // DRIVER_OK
    dev.sectors = mmio_read<uint32_t>(dev.device) | (uint64_t{mmio_read<uint32_t>(dev.device + 4)} << 32);
    return dev;
}

uint64_t word(const char* cmdline, const char* key, uint64_t dflt) {
    for (const char* p = cmdline; p != nullptr && *p != 0; ++p) {
        if (p != cmdline && p[-1] != ' ') continue;
        const char* k = key;
        const char* q = p;
        while (*k != 0 && *q == *k) ++k, ++q;
        if (*k != 0 || *q != '=') continue;
        uint64_t v = 0;
        for (++q; *q >= '0' && *q <= '9'; ++q) v = v * 10 + static_cast<uint64_t>(*q - '0');
        return v;
    }
    return dflt;
}

// Keeps `depth` requests of `bytes` in flight until `count` are done;
// next(i) gives request i's sector.
// FLUSH (type 4): header and status only, in slot 0 (nothing in flight).
void flush(const Device& dev) {
    auto* hdr = reinterpret_cast<volatile uint32_t*>(header_of(0));
    hdr[0] = 4;
    hdr[1] = 0;
    *reinterpret_cast<volatile uint64_t*>(header_of(0) + 8) = 0;
    *reinterpret_cast<volatile uint8_t*>(header_of(0) + 16) = 0xff;
    desc[0] = Desc{header_of(0), 16, kDescNext, 1};
    desc[1] = Desc{header_of(0) + 16, 1, kDescWrite, 0};
    avail[2 + avail_idx % kQueueSize] = 0;
    asm volatile("" ::: "memory");
    avail[1] = ++avail_idx;
    kick(dev);
    (void)reap();
}

// The host's go: a byte on COM1 (LSR bit 0 is data ready).
void wait_go() {
    while ((hello::inb(0x3f8 + 5) & 1) == 0) hello::cpu_relax();
    (void)hello::inb(0x3f8);
}

template <typename Next> void phase(const Device& dev, const char* name, bool write, uint32_t bytes, uint64_t count, uint32_t depth, Next next) {
    Line ready;
    ready.str("PHASE ").str(name).str(" ready");
    say(ready);
    wait_go();
    uint64_t posted = 0, done = 0;
    for (uint32_t s = 0; s < depth && posted < count; ++s) post(s, write, next(posted++), bytes);
    kick(dev);
    while (done < count) {
        // Everything that completed is reposted, then one kick, and only
        // if the device asked for kicks (VRING_USED_F_NO_NOTIFY clear),
        // as Linux's virtqueue_kick_prepare does without EVENT_IDX. The
        // fence orders the new avail index before the flag is read.
        bool reposted = false;
        do {
            const uint32_t slot = reap();
            ++done;
            if (posted < count) {
                post(slot, write, next(posted++), bytes);
                reposted = true;
            }
        } while (used16[1] != used_seen);
        asm volatile("mfence" ::: "memory");
        if (reposted && (used16[0] & 1) == 0) kick(dev);
    }
    if (write) flush(dev);
    Line end;
    end.str("PHASE ").str(name).str(" end ops=").udec(count).str(" bytes=").udec(count * bytes);
    say(end);
}

} // namespace

extern "C" [[noreturn]] void ap_main(uint64_t) {
    for (;;) hello::cpu_relax();
}

extern "C" [[noreturn]] void bsp_main(const HvmStartInfo* si) {
    const char* cmdline = si != nullptr && si->magic == kHvmStartMagic && si->cmdline_paddr != 0
                              ? reinterpret_cast<const char*>(si->cmdline_paddr)
                              : "";
    const uint64_t seq_mib = word(cmdline, "seq_mib", 64);
    const auto depth_seq = static_cast<uint32_t>(word(cmdline, "depth_seq", 4));
    const uint64_t rand_ops = word(cmdline, "rand_ops", 20000);
    const auto depth_rand = static_cast<uint32_t>(word(cmdline, "depth_rand", 32));
    if (depth_seq == 0 || depth_seq > kSlots || depth_rand == 0 || depth_rand > kSlots) die("depth must be 1..42");

    const Device dev = probe();
    Line l;
    l.str("blkbench: virtio-blk with ").udec(dev.sectors).str(" sectors");
    say(l);
    if (seq_mib == 0 || seq_mib * (kBig / 512) > dev.sectors) die("seq_mib is larger than the disk");

    const uint64_t seq_ops = seq_mib;
    phase(dev, "seqwrite", true, kBig, seq_ops, depth_seq, [](uint64_t i) { return i * (kBig / 512); });
    phase(dev, "seqread", false, kBig, seq_ops, depth_seq, [](uint64_t i) { return i * (kBig / 512); });
    uint64_t x = 0x9e3779b97f4a7c15ull;
    const uint64_t blocks = seq_mib * 256; // 4 KiB blocks in the range
    phase(dev, "randread", false, 4096, rand_ops, depth_rand, [&x, blocks](uint64_t) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; // xorshift64
        return (x % blocks) * 8;
    });
    say("blkbench: done");
    // ACPI S5: SLP_TYP 5 | SLP_EN in PM1a_CNT (hv's port 0x604).
    outw(0x604, static_cast<uint16_t>((5 << 10) | (1 << 13)));
    for (;;) hello::cpu_relax();
}

extern "C" [[noreturn]] void exception_report(uint64_t vector, uint64_t, uint64_t rip, uint64_t) {
    Line l;
    l.str("blkbench: exception ").udec(vector).str(" at ").hex(rip);
    hello::fail(l);
}
