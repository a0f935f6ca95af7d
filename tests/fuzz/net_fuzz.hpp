// The virtio-net fuzz target's entry points, shared by the libFuzzer binary
// (tests/fuzz/meson.build) and the unit test's smoke run
// (tests/unit/core/test_net_fuzz_smoke.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct NetFuzzStats {
    uint64_t delivered = 0;   // RxBuffers put the frame in the queue
    uint64_t direct = 0;      // ... through held chains and commit(), as the TAP backend reads
    uint64_t merged = 0;      // ... across more than one chain (num_buffers > 1)
    uint64_t no_room = 0;     // ... waited for more buffers
    uint64_t dropped = 0;     // ... dropped it (too big for the buffers, or under 12 bytes)
    uint64_t broken = 0;      // ... found a malformed chain (the queue broke)
    uint64_t aliased = 0;     // inputs whose writable buffers overlap the rings or an indirect table (fewer checks)
    uint64_t tx_accepted = 0; // transmit headers check_net_tx_header let through
    uint64_t tx_refused = 0;  // ... refused
};

// The input's layout (net_fuzz.cpp says why):
//   byte 0      queue size: 1 << (b % 9)
//   byte 1      bit 0 mergeable buffers, bit 1 event_idx, bit 2 indirect descriptors,
//               bit 3 direct: chains held ahead (fill, to the frame's
//               length and bits 4-7 x 1 KiB more), the frame written
//               through spans() and commit(), the rest released; else deliver()
//   bytes 2-4   the received frame's length (u24 LE, modulo kNetFuzzMaxFrame + 1),
//               its 12-byte header included
//   byte 5      seed of the frame's bytes after the header
//   bytes 6-17  a virtio-net header: the received frame's first 12 bytes,
//               and the transmit header check_net_tx_header judges
//   bytes 18-20 the transmitted frame's length (u24 LE)
//   byte 21     transmit features: bit 0 CSUM, 1 HOST_TSO4, 2 HOST_TSO6,
//               3 HOST_ECN, 4 GUEST_CSUM, 5 MRG_RXBUF, 6 GUEST_TSO4, 7 HOST_UFO's bit (14)
//   then        the descriptor table (16 bytes an entry) at kNetFuzzDesc, the
//               available ring (flags, idx, ring, used_event) at kNetFuzzAvail,
//               and the indirect-table area at kNetFuzzIndirect, each as far
//               as the input goes (zeros past its end)
constexpr uint64_t kNetFuzzRam = 0x20000;
constexpr uint64_t kNetFuzzDesc = 0x0000, kNetFuzzAvail = 0x1000, kNetFuzzUsed = 0x1400;
constexpr uint64_t kNetFuzzIndirect = 0x2000, kNetFuzzIndirectBytes = 0x1000;
constexpr uint64_t kNetFuzzData = 0x3000; // buffers from here to the end of RAM
constexpr uint32_t kNetFuzzMaxFrame = 70000;
constexpr size_t kNetFuzzHeader = 22;

// "" when every invariant held, else what broke.
std::string net_fuzz_check(const uint8_t* data, size_t size, NetFuzzStats& stats);

} // namespace hv::fuzz

int hv_net_fuzz_one(const uint8_t* data, size_t size);
