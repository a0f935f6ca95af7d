#include "core/virtio/net_header.hpp"

#include "core/le_bytes.hpp"

namespace hv::core::virtio {

NetHeader decode_net_header(const uint8_t b[kNetHeaderSize]) {
    NetHeader h;
    h.flags = b[0];
    h.gso_type = b[1];
    h.hdr_len = static_cast<uint16_t>(load_le(b + 2, 2));
    h.gso_size = static_cast<uint16_t>(load_le(b + 4, 2));
    h.csum_start = static_cast<uint16_t>(load_le(b + 6, 2));
    h.csum_offset = static_cast<uint16_t>(load_le(b + 8, 2));
    h.num_buffers = static_cast<uint16_t>(load_le(b + 10, 2));
    return h;
}

void encode_net_header(const NetHeader& h, uint8_t b[kNetHeaderSize]) {
    b[0] = h.flags;
    b[1] = h.gso_type;
    store_le(b + 2, h.hdr_len, 2);
    store_le(b + 4, h.gso_size, 2);
    store_le(b + 6, h.csum_start, 2);
    store_le(b + 8, h.csum_offset, 2);
    store_le(b + 10, h.num_buffers, 2);
}

const char* check_net_tx_header(const NetHeader& h, uint64_t frame_len, uint64_t features) {
    if (frame_len < kEthHeader) return "frame shorter than an Ethernet header";
    if (frame_len > kNetMaxFrame) return "frame longer than 65549 bytes";
    if ((h.flags & kNetHdrFNeedsCsum) != 0) {
        if ((features & kNetFCsum) == 0) return "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
        if (uint64_t{h.csum_start} + h.csum_offset + 2 > frame_len) return "checksum field outside the frame";
    }
    const uint8_t gso = static_cast<uint8_t>(h.gso_type & ~kNetGsoEcn);
    if (gso == kNetGsoNone) {
        if ((h.gso_type & kNetGsoEcn) != 0) return "ECN without segmentation";
        return nullptr;
    }
    if (gso == kNetGsoTcpv4 && (features & kNetFHostTso4) == 0) return "TCPv4 segmentation not negotiated";
    if (gso == kNetGsoTcpv6 && (features & kNetFHostTso6) == 0) return "TCPv6 segmentation not negotiated";
    if (gso != kNetGsoTcpv4 && gso != kNetGsoTcpv6) return "unknown segmentation type";
    if ((h.gso_type & kNetGsoEcn) != 0 && (features & kNetFHostEcn) == 0) return "ECN segmentation not negotiated";
    if ((h.flags & kNetHdrFNeedsCsum) == 0) return "segmentation without NEEDS_CSUM";
    if (h.gso_size == 0) return "segmentation with segment size 0";
    return nullptr;
}

bool accept_net_rx_header(NetHeader& h, uint64_t features) {
    const bool csum = (features & kNetFGuestCsum) != 0;
    if ((h.flags & kNetHdrFNeedsCsum) != 0 && !csum) return false;
    if (!csum) h.flags = 0;
    const uint8_t gso = static_cast<uint8_t>(h.gso_type & ~kNetGsoEcn);
    if (gso == kNetGsoNone) return true;
    if (gso == kNetGsoTcpv4 && (features & kNetFGuestTso4) == 0) return false;
    if (gso == kNetGsoTcpv6 && (features & kNetFGuestTso6) == 0) return false;
    if (gso != kNetGsoTcpv4 && gso != kNetGsoTcpv6) return false;
    return (h.gso_type & kNetGsoEcn) == 0 || (features & kNetFGuestEcn) != 0;
}

} // namespace hv::core::virtio
