// A fake guest for dispatcher tests: RAM in a vector, services that record
// what the dispatcher asked of them, and helpers to build call slots.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "core/domain_services.hpp"
#include "core/guest_ram.hpp"
#include "hv/abi/hv.h"

namespace hvtest {

class FakeServices final : public hv::core::DomainServices {
public:
    uint32_t domid() const override { return 42; }
    void uuid(uint8_t out[16]) const override { for (int i = 0; i < 16; ++i) out[i] = static_cast<uint8_t>(0xa0 + i); }
    uint32_t max_vcpus() const override { return 4; }
    void console_write(const uint8_t* d, uint32_t n) override { console.append(reinterpret_cast<const char*>(d), n); }
    uint32_t console_read(uint8_t* dst, uint32_t n) override {
        const uint32_t k = std::min<uint32_t>(n, static_cast<uint32_t>(input.size()));
        std::memcpy(dst, input.data(), k);
        input.erase(0, k);
        return k;
    }
    bool vcpu_is_up(uint32_t v) const override { return v < up_count; }
    int64_t vcpu_up(uint32_t, const hv_vcpu_up_t& req) override {
        if (req.vcpu < up_count) return HV_EBUSY;
        last_up = req;
        ++up_calls;
        return HV_OK;
    }
    uint32_t vcpu_target() const override { return target; }
    void bad_call(uint32_t, uint32_t group, uint32_t op, int64_t result, const char* why) override {
        bad.push_back({group, op, result, why});
    }

    struct Bad {
        uint32_t group, op;
        int64_t result;
        std::string why;
    };
    std::string console;
    std::string input;
    uint32_t up_count = 1;
    uint32_t target = 3;
    uint32_t up_calls = 0;
    hv_vcpu_up_t last_up{};
    std::vector<Bad> bad;
};

struct FakeRam {
    explicit FakeRam(size_t size = 1 << 20) : bytes(size) {}
    hv::core::GuestRam ram() { return hv::core::GuestRam{bytes.data(), bytes.size()}; }
    hv_call_t& slot(uint64_t gpa) { return *reinterpret_cast<hv_call_t*>(bytes.data() + gpa); }
    std::vector<uint8_t> bytes;
};

template <class Req>
hv_call_t make_call(uint16_t group, uint16_t op, const Req& req) {
    hv_call_t c{};
    c.group = group;
    c.op = op;
    std::memcpy(c.args, &req, sizeof req);
    return c;
}

inline hv_call_t make_call(uint16_t group, uint16_t op) {
    hv_call_t c{};
    c.group = group;
    c.op = op;
    return c;
}

template <class Req>
Req args_of(const hv_call_t& c) {
    Req r;
    std::memcpy(&r, c.args, sizeof r);
    return r;
}

} // namespace hvtest
