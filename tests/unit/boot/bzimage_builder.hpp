// Builds bzImage files for tests: a setup header as the Linux/x86 boot
// protocol lays it out, the protected-mode part holding a payload at
// payload_offset. Fields can be set wrong on purpose.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace hvtest {

struct BzImageBuilder {
    uint8_t setup_sects = 2;
    uint16_t version = 0x020f;
    uint8_t header_len = 0x6a; // the jump's displacement: header through kernel_info_offset
    uint8_t loadflags = 0x01;  // LOADED_HIGH
    uint16_t xloadflags = 0x03; // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    uint32_t cmdline_size = 2047;
    uint32_t initrd_addr_max = 0x7fffffff;
    uint32_t kernel_alignment = 0x200000;
    uint8_t relocatable = 1;
    uint64_t pref_address = 0x1000000;
    uint32_t init_size = 0x2000000;
    uint32_t payload_offset = 0x100; // from the protected-mode kernel's start
    std::string payload = std::string("\xfd" "7zXZ\0", 6) + "compressed kernel";
    uint32_t payload_length = 0;     // 0: payload.size()
    size_t tail = 64;                // bytes after the payload

    std::vector<uint8_t> build() const {
        const size_t kernel = (size_t{setup_sects == 0 ? 4u : setup_sects} + 1) * 512;
        std::vector<uint8_t> f(kernel + payload_offset + payload.size() + tail);
        f[0x1f1] = setup_sects;
        put<uint16_t>(f, 0x1fe, 0xaa55);
        f[0x200] = 0xeb;
        f[0x201] = header_len;
        put<uint32_t>(f, 0x202, 0x53726448); // "HdrS"
        put<uint16_t>(f, 0x206, version);
        f[0x211] = loadflags;
        put<uint32_t>(f, 0x22c, initrd_addr_max);
        put<uint32_t>(f, 0x230, kernel_alignment);
        f[0x234] = relocatable;
        put<uint16_t>(f, 0x236, xloadflags);
        put<uint32_t>(f, 0x238, cmdline_size);
        put<uint32_t>(f, 0x248, payload_offset);
        put<uint32_t>(f, 0x24c, payload_length != 0 ? payload_length : static_cast<uint32_t>(payload.size()));
        put<uint64_t>(f, 0x258, pref_address);
        put<uint32_t>(f, 0x260, init_size);
        std::memcpy(f.data() + kernel + payload_offset, payload.data(), payload.size());
        return f;
    }

    template <class T>
    static void put(std::vector<uint8_t>& f, size_t at, T v) {
        std::memcpy(f.data() + at, &v, sizeof v);
    }
};

} // namespace hvtest
