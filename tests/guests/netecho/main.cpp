// netecho guest: a virtio-net driver in ring 3, the peer of tests/net/frame_peer.
//
// It boots like blkbench (hello/boot.S built with HV_PC_GUEST: no hv ABI
// note, so hv runs it on its PC machine with PCI and virtio) and then, from
// ring 3 with IOPL=3, does what a minimal stock driver would (virtio 1.2
// section 5.1, modern virtio-pci only): find the first virtio-net function
// on bus 0 by configuration ports, walk its capabilities, negotiate
// VERSION_1 and MAC only, set up receiveq (queue 0) and transmitq (queue 1)
// and poll their used rings (no interrupts: IF stays 0).
//
// Once up it prints "netecho: mac 00:16:3e:..", broadcasts one "HVNET hello"
// frame and then answers frames of ethertype 0x88b5 (local experimental)
// whose payload starts "HVNET ":
//   "HVNET ping..."   a frame of the same length back to the sender, with
//                     "ping" replaced by "pong" and the macs swapped;
//   "HVNET blast N"   N frames of 1514 bytes ("HVNET data <seq>") to the
//                     sender as fast as the transmit queue allows, then one
//                     "HVNET blast-done N";
//   "HVNET off"       prints "netecho: off" and powers off through ACPI.
// Anything else is ignored (its buffer goes back to the device).
#include <stdint.h>

#include "../hello/pc_io.hpp"
#include "../hello/runtime.hpp"

using hello::Line;
using hello::say;
using namespace hello::pc;

namespace {

[[noreturn]] void die(const char* what) {
    Line l;
    l.str("netecho: FAILED: ").str(what);
    hello::fail(l);
}

// Every wait for the device is bounded by this many pause loops: seconds on
// any machine (a pause is tens of cycles natively, more under TCG), far
// longer than a working device needs. Only the main idle loop is unbounded.
constexpr uint64_t kSpinLimit = uint64_t{1} << 28;

template <typename Done> bool wait_for(Done done) {
    for (uint64_t i = 0; i < kSpinLimit; ++i) {
        if (done()) return true;
        hello::cpu_relax();
    }
    return done();
}

// ---- virtio-pci common configuration (virtio 1.2 section 4.1.4.3) --------

constexpr uint64_t kDeviceFeatureSelect = 0x00, kDeviceFeature = 0x04;
constexpr uint64_t kDriverFeatureSelect = 0x08, kDriverFeature = 0x0c;
constexpr uint64_t kDeviceStatus = 0x14, kConfigGeneration = 0x15;
constexpr uint64_t kQueueSelect = 0x16, kQueueSize = 0x18, kQueueEnable = 0x1c, kQueueNotifyOff = 0x1e;
constexpr uint64_t kQueueDesc = 0x20, kQueueDriver = 0x28, kQueueDevice = 0x30;

constexpr uint8_t kAcknowledge = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8;

constexpr uint32_t kNetFMac = 1u << 5;     // feature bit 5, in the low word
constexpr uint32_t kFVersion1 = 1u << 0;   // feature bit 32, in the high word

// ---- Ethernet ---------------------------------------------------------------

constexpr uint32_t kNetHdr = 12;    // struct virtio_net_hdr with num_buffers (VERSION_1)
constexpr uint32_t kEthHdr = 14;    // dst, src, ethertype
constexpr uint32_t kMaxFrame = 1514; // without FCS
constexpr uint32_t kMinFrame = 60;
constexpr uint16_t kEtherType = 0x88b5;

// ---- the split queues, in guest RAM at fixed places (identity-mapped) -----
//
// Everything lives in the 2 MiB page at 4 MiB: clear of the image and its
// stacks (below 2 MiB) and of blkbench's layout, and well inside the
// domain's memory (at least 32 MiB). Each ring gets its own 4 KiB page;
// buffers are 2 KiB apart (12 + 1514 bytes fit).

constexpr uint16_t kWantQueue = 64;
constexpr uint64_t kRingsGpa = 0x400000; // 6 pages: rx desc/avail/used, tx desc/avail/used
constexpr uint64_t kRxBufGpa = 0x410000; // kWantQueue x 2 KiB
constexpr uint64_t kTxBufGpa = 0x440000; // kWantQueue x 2 KiB
constexpr uint64_t kBufStride = 2048;

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kAvailNoInterrupt = 1; // VRING_AVAIL_F_NO_INTERRUPT: we poll
constexpr uint16_t kUsedNoNotify = 1;     // VRING_USED_F_NO_NOTIFY

struct Queue {
    uint16_t index = 0, size = 0;
    Desc* desc = nullptr;
    volatile uint16_t* avail = nullptr;    // flags, idx, ring[size]
    volatile uint16_t* used16 = nullptr;   // flags, idx
    volatile uint32_t* used_ring = nullptr; // {id, len} pairs
    uint64_t notify_addr = 0;
    uint64_t bufs = 0; // descriptor i always points at buffer i
    uint16_t avail_idx = 0, used_seen = 0;

    uint8_t* buf(uint32_t i) const { return reinterpret_cast<uint8_t*>(bufs + kBufStride * i); }
};

Queue rxq, txq;
uint8_t own_mac[6];

// Makes descriptor `head` available.
void publish(Queue& q, uint16_t head) {
    q.avail[2 + q.avail_idx % q.size] = head;
    asm volatile("" ::: "memory"); // x86 keeps stores in order; the compiler must too
    q.avail[1] = ++q.avail_idx;
}

// Notifies the device unless it said it does not want to be (it is still
// working on the queue and will see the new entries). The fence orders the
// avail index store before the flag load, as Linux's virtqueue_kick_prepare
// does without EVENT_IDX.
void kick(const Queue& q) {
    asm volatile("mfence" ::: "memory");
    if ((q.used16[0] & kUsedNoNotify) == 0) mmio_write<uint16_t>(q.notify_addr, q.index);
}

// Takes the next used element, if any.
bool pop_used(Queue& q, uint32_t& id, uint32_t& len) {
    const uint16_t idx = q.used16[1];
    if (idx == q.used_seen) return false;
    if (static_cast<uint16_t>(idx - q.used_seen) > q.size) die("used index ran ahead of the ring");
    asm volatile("" ::: "memory"); // x86 keeps loads in order; the compiler must too
    id = q.used_ring[2 * (q.used_seen % q.size)];
    len = q.used_ring[2 * (q.used_seen % q.size) + 1];
    ++q.used_seen;
    if (id >= q.size) die("a used id out of range");
    return true;
}

// ---- receive -----------------------------------------------------------------

// One device-writable descriptor per buffer: without MRG_RXBUF, a buffer
// this big holds a whole frame, so one chain is one frame.
void post_rx(uint16_t id) {
    rxq.desc[id] = Desc{reinterpret_cast<uint64_t>(rxq.buf(id)), kNetHdr + kMaxFrame, kDescWrite, 0};
    publish(rxq, id);
}

// ---- transmit -----------------------------------------------------------------

// Transmit buffer i is descriptor i; free ones are on a stack. A completion
// for a descriptor that is not in flight is a device bug.
uint16_t tx_free[kWantQueue];
uint32_t tx_nfree = 0;
bool tx_busy[kWantQueue];

void reap_tx() {
    uint32_t id = 0, len = 0;
    while (pop_used(txq, id, len)) {
        if (!tx_busy[id]) die("a transmit completion for a descriptor not in flight");
        tx_busy[id] = false;
        tx_free[tx_nfree++] = static_cast<uint16_t>(id);
    }
}

// Waits (bounded) until a transmit buffer is free.
void tx_wait_free() {
    reap_tx();
    if (tx_nfree == 0 && !wait_for([] {
            reap_tx();
            return tx_nfree != 0;
        }))
        die("the transmit queue stopped completing");
}

uint16_t tx_get() {
    tx_wait_free();
    return tx_free[--tx_nfree];
}

// The frame area of transmit buffer `id` (after the virtio-net header).
uint8_t* tx_frame(uint16_t id) { return txq.buf(id) + kNetHdr; }

// Queues transmit buffer `id` holding a `len`-byte frame, without a kick.
// One readable descriptor holds the zeroed header and the frame back to
// back: VERSION_1 implies ANY_LAYOUT, so the device must not care how the
// header and data are split across descriptors.
void tx_post(uint16_t id, uint32_t len) {
    uint8_t* hdr = txq.buf(id);
    for (uint32_t i = 0; i < kNetHdr; ++i) hdr[i] = 0; // no offloads, num_buffers 0
    txq.desc[id] = Desc{reinterpret_cast<uint64_t>(hdr), kNetHdr + len, 0, 0};
    tx_busy[id] = true;
    publish(txq, id);
}

void tx_send(uint16_t id, uint32_t len) {
    tx_post(id, len);
    kick(txq);
}

// ---- frame building -------------------------------------------------------

void copy(uint8_t* to, const uint8_t* from, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) to[i] = from[i];
}

// Ethernet header (src = own mac) plus `text` at the payload's start; the
// payload is zeroed up to `len`. Returns where the text ended.
uint32_t build(uint8_t* f, const uint8_t* dst, const char* text, uint32_t len) {
    copy(f, dst, 6);
    copy(f + 6, own_mac, 6);
    f[12] = kEtherType >> 8;
    f[13] = kEtherType & 0xff;
    uint32_t at = kEthHdr;
    for (; *text != 0 && at < len; ++text) f[at++] = static_cast<uint8_t>(*text);
    for (uint32_t i = at; i < len; ++i) f[i] = 0;
    return at;
}

// Writes `v` in decimal at f[at..]; returns the end.
uint32_t put_udec(uint8_t* f, uint32_t at, uint64_t v) {
    char digits[20];
    uint32_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n != 0) f[at++] = static_cast<uint8_t>(digits[--n]);
    return at;
}

Line& put_mac(Line& l, const uint8_t* mac) {
    constexpr char kHex[] = "0123456789abcdef";
    for (uint32_t i = 0; i < 6; ++i) {
        if (i != 0) l.ch(':');
        l.ch(kHex[mac[i] >> 4]).ch(kHex[mac[i] & 15]);
    }
    return l;
}

// True if f[at..len) starts with `text`.
bool starts(const uint8_t* f, uint32_t at, uint32_t len, const char* text) {
    for (; *text != 0; ++text, ++at)
        if (at >= len || f[at] != static_cast<uint8_t>(*text)) return false;
    return true;
}

// ---- the device -----------------------------------------------------------

struct Device {
    uint64_t common = 0, notify = 0, device = 0;
    uint32_t notify_mult = 0;
};

// The memory address BAR `bar` of function `fn` decodes. hv puts the
// virtio capabilities in BAR0, QEMU in BAR4; both are 64-bit memory BARs
// the firmware (or the VMM) placed. boot.S maps only the first 1 GiB and
// the 3-4 GiB PCI window, so anything else cannot be reached.
uint64_t bar_address(uint32_t fn, uint32_t bar) {
    if (bar > 5) die("a virtio capability names no BAR");
    const uint32_t lo = cfg_read(fn, 0x10 + 4 * bar);
    if ((lo & 1) != 0) die("a virtio capability is in an I/O BAR");
    uint64_t a = lo & ~0xfu;
    if (((lo >> 1) & 3) == 2) {
        if (bar == 5) die("a 64-bit BAR5");
        a |= uint64_t{cfg_read(fn, 0x14 + 4 * bar)} << 32;
    }
    const bool mapped = (a != 0 && a < (uint64_t{1} << 30)) || (a >= 0xc0000000u && a < (uint64_t{1} << 32));
    if (!mapped) die("the virtio BAR is outside the identity map");
    return a;
}

// Sets up queue `index` with rings at `rings` (3 pages) and buffers at `bufs`.
void setup_queue(const Device& dev, Queue& q, uint16_t index, uint64_t rings, uint64_t bufs) {
    const uint64_t c = dev.common;
    mmio_write<uint16_t>(c + kQueueSelect, index);
    const uint16_t max = mmio_read<uint16_t>(c + kQueueSize);
    // 64 if the device allows it, else its own maximum if that is a power
    // of two of at least 8 (a split ring's size is a power of two).
    uint16_t size = kWantQueue;
    if (max < kWantQueue) {
        if (max < 8 || (max & (max - 1)) != 0) die("queue size unusable");
        size = max;
    }
    if (mmio_read<uint16_t>(c + kQueueEnable) != 0) die("queue enabled after reset");
    mmio_write<uint16_t>(c + kQueueSize, size);
    q.index = index;
    q.size = size;
    q.desc = reinterpret_cast<Desc*>(rings);
    q.avail = reinterpret_cast<volatile uint16_t*>(rings + 0x1000);
    q.used16 = reinterpret_cast<volatile uint16_t*>(rings + 0x2000);
    q.used_ring = reinterpret_cast<volatile uint32_t*>(rings + 0x2000 + 4);
    q.bufs = bufs;
    // Fresh rings: whatever an earlier run left in RAM is not ours.
    for (uint32_t i = 0; i < 3 * 0x1000 / 8; ++i) reinterpret_cast<volatile uint64_t*>(rings)[i] = 0;
    q.avail[0] = kAvailNoInterrupt;
    // 64-bit registers in two halves, as Linux writes them.
    const auto put64 = [](uint64_t at, uint64_t v) {
        mmio_write<uint32_t>(at, static_cast<uint32_t>(v));
        mmio_write<uint32_t>(at + 4, static_cast<uint32_t>(v >> 32));
    };
    put64(c + kQueueDesc, rings);
    put64(c + kQueueDriver, rings + 0x1000);
    put64(c + kQueueDevice, rings + 0x2000);
    q.notify_addr = dev.notify + uint64_t{mmio_read<uint16_t>(c + kQueueNotifyOff)} * dev.notify_mult;
    mmio_write<uint16_t>(c + kQueueEnable, 1);
}

Device probe() {
    // The first function (any of 8 on slots 1..31) that is virtio 1.x net.
    uint32_t fn = 8;
    for (; fn < 32 * 8; ++fn) {
        const uint32_t id = cfg_read(fn, 0);
        if (id == 0x10411af4) break;
        // No function 0, or a single-function device: skip the slot's others.
        if ((fn & 7) == 0 && (id == 0xffffffffu || (cfg_read(fn, 0x0c) & 0x800000) == 0)) fn += 7;
    }
    if (fn == 32 * 8) die("no virtio-net function on bus 0");
    // Decoding and bus mastering on (the status half is written as 0:
    // its bits are read-only or write-1-to-clear).
    cfg_write32(fn, 0x04, (cfg_read(fn, 0x04) & 0xffff) | 0x6);
    Device dev;
    if ((cfg_read(fn, 0x04) & (1u << 20)) == 0) die("no PCI capability list");
    uint32_t guard = 0; // a capability loop is a device bug, not a hang
    for (uint32_t cap = cfg_read(fn, 0x34) & 0xfc; cap != 0; cap = (cfg_read(fn, cap) >> 8) & 0xfc) {
        if (++guard > 48) die("PCI capability list loops");
        if ((cfg_read(fn, cap) & 0xff) != 0x09) continue; // vendor-specific: virtio
        const uint32_t type = (cfg_read(fn, cap) >> 24) & 0xff;
        if (type != 1 && type != 2 && type != 4) continue; // only common, notify, device
        const uint64_t at = bar_address(fn, cfg_read(fn, cap + 4) & 0xff) + cfg_read(fn, cap + 8);
        // The first capability of each type is the preferred one.
        if (type == 1 && dev.common == 0) dev.common = at;
        if (type == 2 && dev.notify == 0) {
            dev.notify = at;
            dev.notify_mult = cfg_read(fn, cap + 16);
        }
        if (type == 4 && dev.device == 0) dev.device = at;
    }
    if (dev.common == 0 || dev.notify == 0 || dev.device == 0) die("virtio capabilities missing");

    const uint64_t c = dev.common;
    mmio_write<uint8_t>(c + kDeviceStatus, 0); // reset, done when it reads back 0
    if (!wait_for([c] { return mmio_read<uint8_t>(c + kDeviceStatus) == 0; })) die("reset did not complete");
    mmio_write<uint8_t>(c + kDeviceStatus, kAcknowledge | kDriver);

    mmio_write<uint32_t>(c + kDeviceFeatureSelect, 0);
    const uint32_t lo = mmio_read<uint32_t>(c + kDeviceFeature);
    mmio_write<uint32_t>(c + kDeviceFeatureSelect, 1);
    const uint32_t hi = mmio_read<uint32_t>(c + kDeviceFeature);
    if ((hi & kFVersion1) == 0) die("VERSION_1 not offered");
    if ((lo & kNetFMac) == 0) die("MAC not offered");
    // VERSION_1 and MAC only: no MRG_RXBUF (one buffer per frame), no
    // offloads, no control queue.
    mmio_write<uint32_t>(c + kDriverFeatureSelect, 0);
    mmio_write<uint32_t>(c + kDriverFeature, kNetFMac);
    mmio_write<uint32_t>(c + kDriverFeatureSelect, 1);
    mmio_write<uint32_t>(c + kDriverFeature, kFVersion1);
    mmio_write<uint8_t>(c + kDeviceStatus, kAcknowledge | kDriver | kFeaturesOk);
    if ((mmio_read<uint8_t>(c + kDeviceStatus) & kFeaturesOk) == 0) die("FEATURES_OK refused");

    // The mac, byte by byte, re-read if the configuration generation moved
    // meanwhile (virtio 1.2 section 2.5.1).
    bool stable = false;
    for (uint32_t tries = 0; tries < 16 && !stable; ++tries) {
        const uint8_t gen = mmio_read<uint8_t>(c + kConfigGeneration);
        for (uint32_t i = 0; i < 6; ++i) own_mac[i] = mmio_read<uint8_t>(dev.device + i);
        stable = mmio_read<uint8_t>(c + kConfigGeneration) == gen;
    }
    if (!stable) die("the configuration generation never settled");

    setup_queue(dev, rxq, 0, kRingsGpa, kRxBufGpa);
    setup_queue(dev, txq, 1, kRingsGpa + 0x3000, kTxBufGpa);
    mmio_write<uint8_t>(c + kDeviceStatus, kAcknowledge | kDriver | kFeaturesOk | kDriverOk);
    if ((mmio_read<uint8_t>(c + kDeviceStatus) & 0x40) != 0) die("the device needs a reset"); // DEVICE_NEEDS_RESET

    for (uint16_t i = 0; i < txq.size; ++i) {
        tx_busy[i] = false;
        tx_free[tx_nfree++] = static_cast<uint16_t>(txq.size - 1 - i);
    }
    // Every receive buffer goes to the device at once.
    for (uint16_t i = 0; i < rxq.size; ++i) post_rx(i);
    kick(rxq);
    return dev;
}

// ---- the commands ---------------------------------------------------------

constexpr uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void send_hello() {
    const uint16_t id = tx_get();
    build(tx_frame(id), kBroadcast, "HVNET hello", kMinFrame);
    tx_send(id, kMinFrame);
}

// `f` is a received ping of `len` bytes: the same frame back, macs swapped
// and "ping" (right after "HVNET ") turned into "pong".
void pong(const uint8_t* f, uint32_t len) {
    const uint16_t id = tx_get();
    uint8_t* out = tx_frame(id);
    copy(out, f, len);
    copy(out, f + 6, 6);
    copy(out + 6, own_mac, 6);
    out[kEthHdr + 7] = 'o'; // "HVNET p[i]ng"
    tx_send(id, len);
}

// N data frames of kMaxFrame bytes to `dst`, then "HVNET blast-done N".
// Transmit buffers are reused as they complete; receiving pauses (the
// device drops what finds no buffer) and resumes in the main loop.
void blast(const uint8_t* sender, uint64_t n) {
    uint8_t dst[6]; // the sender's mac, out of the receive buffer
    copy(dst, sender, 6);
    Line l;
    l.str("netecho: blast ").udec(n).str(" to ");
    put_mac(l, dst);
    say(l);
    uint64_t seq = 0;
    while (seq < n) {
        // Every free buffer gets a frame, then one kick for the lot.
        tx_wait_free();
        while (tx_nfree != 0 && seq < n) {
            const uint16_t id = tx_free[--tx_nfree];
            uint8_t* f = tx_frame(id);
            const uint32_t at = build(f, dst, "HVNET data ", kMaxFrame);
            put_udec(f, at, seq++);
            tx_post(id, kMaxFrame);
        }
        kick(txq);
    }
    const uint16_t id = tx_get();
    uint8_t* f = tx_frame(id);
    const uint32_t at = build(f, dst, "HVNET blast-done ", kMinFrame);
    put_udec(f, at, n);
    tx_send(id, kMinFrame);
    say("netecho: blast done");
}

[[noreturn]] void power_off() {
    say("netecho: off");
    // ACPI S5: SLP_TYP 5 | SLP_EN in PM1a_CNT (hv's port 0x604), as blkbench.
    outw(0x604, static_cast<uint16_t>((5 << 10) | (1 << 13)));
    // On hv that ends the domain (and the first stop request wins, so what
    // follows could not turn it into a reset). Elsewhere (QEMU's PIIX4 has
    // its PM block where the firmware put it, and another SLP_TYP for S5)
    // the machine is still running after a short while: a triple fault
    // ends it there (with -no-reboot).
    for (uint32_t i = 0; i < (1u << 20); ++i) hello::cpu_relax();
    hello::triple_fault();
}

// Parses "N" (decimal, 1..10 digits, then the end of the frame or a byte
// that is not a digit); false if malformed.
bool parse_count(const uint8_t* f, uint32_t at, uint32_t len, uint64_t& n) {
    n = 0;
    uint32_t digits = 0;
    for (; at < len && f[at] >= '0' && f[at] <= '9'; ++at, ++digits) {
        if (digits == 10) return false;
        n = n * 10 + static_cast<uint64_t>(f[at] - '0');
    }
    return digits != 0;
}

// One received frame (`len` bytes after the virtio-net header).
void handle(const uint8_t* f, uint32_t len) {
    constexpr uint32_t p = kEthHdr; // the payload's start
    if (len < kEthHdr || len > kMaxFrame) return;
    if (f[12] != (kEtherType >> 8) || f[13] != (kEtherType & 0xff)) return;
    if (!starts(f, p, len, "HVNET ")) return;
    uint64_t n = 0;
    if (starts(f, p, len, "HVNET ping")) {
        pong(f, len);
    } else if (starts(f, p, len, "HVNET blast ") && parse_count(f, p + 12, len, n)) {
        blast(f + 6, n);
    } else if (starts(f, p, len, "HVNET off") && (len == p + 9 || f[p + 9] == 0)) {
        power_off();
    }
}

} // namespace

extern "C" [[noreturn]] void ap_main(uint64_t) {
    for (;;) hello::cpu_relax();
}

extern "C" [[noreturn]] void bsp_main(const void*) {
    (void)probe();
    Line l;
    l.str("netecho: mac ");
    put_mac(l, own_mac);
    say(l);
    send_hello();

    // The idle loop: frames in, each handled and its buffer given back;
    // transmit completions reaped on the way.
    for (;;) {
        uint32_t id = 0, len = 0;
        bool any = false;
        while (pop_used(rxq, id, len)) {
            any = true;
            // A used length below the header (or past the buffer) is a
            // device bug; the frame is what follows the header.
            if (len < kNetHdr || len > kNetHdr + kMaxFrame) die("a receive length out of range");
            handle(rxq.buf(id) + kNetHdr, len - kNetHdr);
            post_rx(static_cast<uint16_t>(id));
        }
        if (any) kick(rxq);
        reap_tx();
        hello::cpu_relax();
    }
}

extern "C" [[noreturn]] void exception_report(uint64_t vector, uint64_t, uint64_t rip, uint64_t) {
    Line l;
    l.str("netecho: exception ").udec(vector).str(" at ").hex(rip);
    hello::fail(l);
}
