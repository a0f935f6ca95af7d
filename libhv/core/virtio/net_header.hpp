// The virtio-net header and feature bits (virtio 1.2 section 5.1), and the
// check of a transmit header a guest wrote. Freestanding.
#pragma once

#include <stdint.h>

namespace hv::core::virtio {

// Device feature bits (virtio 1.2 5.1.3).
constexpr uint64_t kNetFCsum = 1ull << 0;       // device takes partially checksummed frames
constexpr uint64_t kNetFGuestCsum = 1ull << 1;  // driver takes partially checksummed frames
constexpr uint64_t kNetFMtu = 1ull << 3;
constexpr uint64_t kNetFMac = 1ull << 5;
constexpr uint64_t kNetFGuestTso4 = 1ull << 7;
constexpr uint64_t kNetFGuestTso6 = 1ull << 8;
constexpr uint64_t kNetFGuestEcn = 1ull << 9;
constexpr uint64_t kNetFHostTso4 = 1ull << 11;
constexpr uint64_t kNetFHostTso6 = 1ull << 12;
constexpr uint64_t kNetFHostEcn = 1ull << 13;
constexpr uint64_t kNetFMrgRxbuf = 1ull << 15;
constexpr uint64_t kNetFStatus = 1ull << 16;

constexpr uint16_t kNetStatusLinkUp = 1;

// struct virtio_net_hdr with num_buffers: 12 bytes whenever VERSION_1 is
// negotiated (virtio 1.2 5.1.6), which is the only way hv's transport runs.
constexpr uint32_t kNetHeaderSize = 12;
constexpr uint8_t kNetHdrFNeedsCsum = 1;
constexpr uint8_t kNetHdrFDataValid = 2;
constexpr uint8_t kNetGsoNone = 0;
constexpr uint8_t kNetGsoTcpv4 = 1;
constexpr uint8_t kNetGsoUdp = 3;
constexpr uint8_t kNetGsoTcpv6 = 4;
constexpr uint8_t kNetGsoEcn = 0x80;

// Ethernet: a frame's header and the largest frame one header may carry (a
// GSO frame of 64 KiB plus its link header, as Linux's TAP and QEMU allow).
constexpr uint32_t kEthHeader = 14;
constexpr uint32_t kNetMaxFrame = 65535 + kEthHeader;

struct NetHeader {
    uint8_t flags = 0;
    uint8_t gso_type = 0;
    uint16_t hdr_len = 0;
    uint16_t gso_size = 0;
    uint16_t csum_start = 0;
    uint16_t csum_offset = 0;
    uint16_t num_buffers = 0;
};

NetHeader decode_net_header(const uint8_t bytes[kNetHeaderSize]);
void encode_net_header(const NetHeader& h, uint8_t bytes[kNetHeaderSize]);

// Whether a transmit header may go to the host with a frame of
// `frame_len` bytes (after the header), given the negotiated features:
// NEEDS_CSUM with the checksum inside the frame (other flag bits are
// ignored, as virtio 1.2 5.1.6.2.2 asks; the device clears them); segmentation only
// of a kind the device offered, with a segment size. null when it may,
// else what is wrong. The host kernel checks again; this is hv's gate.
const char* check_net_tx_header(const NetHeader& h, uint64_t frame_len, uint64_t features);

// Whether a received frame's header (from the host's TAP) uses only the
// offloads the driver negotiated: NEEDS_CSUM needs GUEST_CSUM, TSO the
// matching GUEST_TSO4/6 (and GUEST_ECN for ECN). The TAP follows
// TUNSETOFFLOAD, but frames it queued under an earlier driver's offloads
// outlive a reset. Clears DATA_VALID (a hint) for a driver without
// GUEST_CSUM. false: drop the frame.
bool accept_net_rx_header(NetHeader& h, uint64_t features);

} // namespace hv::core::virtio
