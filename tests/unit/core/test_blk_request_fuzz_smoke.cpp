// The virtio-blk request fuzz target (tests/fuzz/blk_request_fuzz.cpp) run
// as a unit test: 20,000 seeded inputs, random bytes and driver-shaped
// requests (every request type and some unknown ones, the header alone or
// sharing a buffer with the data, data and status sharing one, sectors and
// ranges at the disk's end, read-only disks, a few mutated bytes each),
// through the same checks libFuzzer runs. Reproducible: the seed is fixed
// and a failure prints its input in hex.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../fuzz/blk_request_fuzz.hpp"
#include "../../fuzz/fuzz_smoke.hpp"

using hv::fuzz::BlkRequestFuzzStats;
using hv::fuzz::kBlkRequestFuzzRam;

namespace {

struct Seg {
    uint16_t gpa;
    uint16_t len;
    bool writable;
};

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    // A request as a driver (or a confused one) lays it out, encoded in
    // the target's input format.
    std::string request() {
        ram_.assign(kBlkRequestFuzzRam, 0);
        segs_.clear();
        const bool read_only = one_in(4);
        const uint32_t max_ranges = static_cast<uint32_t>(1 + below(4));
        const bool huge = one_in(16);
        const uint32_t cap = static_cast<uint32_t>(one_in(8) ? below(4) : below(4096));
        const uint64_t capacity = huge ? ~uint64_t{0} - cap : cap;

        static constexpr uint32_t kTypes[] = {0, 1, 4, 8, 11, 13};
        uint32_t type = kTypes[below(6)];
        if (one_in(10)) type = static_cast<uint32_t>(rng_());
        else if (one_in(20)) type = static_cast<uint32_t>(below(16));
        const bool device_writes = type == 0 || type == 8;
        const bool ranged = type == 11 || type == 13;

        // Data: sectors mostly, now and then a ragged length.
        std::vector<uint16_t> data;
        for (size_t k = ranged ? 0 : below(4); k > 0; --k)
            data.push_back(static_cast<uint16_t>(one_in(6) ? below(1600) : type == 8 ? 20 : 512 * (1 + below(3))));
        uint64_t sectors = 0;
        for (uint16_t d : data) sectors += d / 512;
        put_header(type, sector_near(capacity, sectors));

        const uint16_t h = static_cast<uint16_t>(below(256));
        if (ranged) {
            // The ranges, after the header in its buffer or in their own (cut in two now and then).
            const uint32_t n = static_cast<uint32_t>(below(max_ranges + 2));
            const bool shared = one_in(2);
            const uint16_t at = shared ? static_cast<uint16_t>(h + 16) : 0x1800;
            for (uint32_t i = 0; i < n; ++i) put_range(at + 16u * i, capacity, type == 13);
            const uint16_t bytes = static_cast<uint16_t>(16 * n + (one_in(10) ? below(16) : 0));
            std::memmove(&ram_[h], &header_[0], 16);
            if (shared) {
                segs_.push_back({h, static_cast<uint16_t>(16 + bytes), false});
            } else {
                segs_.push_back({h, 16, false});
                const uint16_t cut = static_cast<uint16_t>(one_in(3) ? below(bytes + 1u) : bytes);
                segs_.push_back({at, cut, false});
                if (cut != bytes) segs_.push_back({static_cast<uint16_t>(at + cut), static_cast<uint16_t>(bytes - cut), false});
            }
        } else {
            std::memmove(&ram_[h], &header_[0], 16);
            const bool shared = !device_writes && !data.empty() && one_in(3);
            if (shared) {
                segs_.push_back({h, static_cast<uint16_t>(16 + data[0]), false});
                data.erase(data.begin());
            } else {
                segs_.push_back({h, 16, false});
            }
            if (device_writes && one_in(10)) segs_.push_back({0x1c00, 512, false}); // the wrong direction
            for (size_t j = 0; j < data.size(); ++j)
                segs_.push_back({static_cast<uint16_t>(0x400 + 0x600 * j), data[j], device_writes});
        }
        // The status: its own byte, or (IN) the byte after the data.
        if (!one_in(20)) {
            if (device_writes && !segs_.empty() && segs_.back().writable && one_in(4)) ++segs_.back().len;
            else segs_.push_back({0x1f00, static_cast<uint16_t>(one_in(10) ? 2 + below(4) : 1), true});
        }
        if (one_in(20) && !segs_.empty()) segs_.back().len = 0;

        std::string s;
        s += static_cast<char>((read_only ? 1u : 0u) | ((max_ranges - 1) << 1) | (huge ? 8u : 0u));
        for (int i = 0; i < 4; ++i) s += static_cast<char>(cap >> (8 * i));
        s += static_cast<char>(segs_.size());
        for (const Seg& g : segs_) {
            s += static_cast<char>(g.gpa), s += static_cast<char>(g.gpa >> 8);
            s += static_cast<char>(g.len), s += static_cast<char>(g.len >> 8);
            s += static_cast<char>(g.writable ? 1 : 0);
        }
        // RAM, without its trailing zeros (the target reads zeros past the end).
        size_t used = ram_.size();
        while (used > 0 && ram_[used - 1] == 0) --used;
        s.append(reinterpret_cast<const char*>(ram_.data()), used);
        return s;
    }

    void mutate(std::string& s) {
        if (s.empty()) return;
        s[below(s.size())] = static_cast<char>(rng_());
    }

private:
    // Near the end of the disk mostly: where off-by-ones live.
    uint64_t sector_near(uint64_t capacity, uint64_t sectors) {
        if (one_in(16)) return rng_();
        if (one_in(2)) return below(static_cast<size_t>(std::min<uint64_t>(capacity, 1u << 20)) + 1);
        const uint64_t back = sectors + below(3);
        return capacity >= back ? capacity - back + below(3) : below(3);
    }
    void put_header(uint32_t type, uint64_t sector) {
        std::memset(header_, 0, sizeof header_);
        std::memcpy(header_, &type, 4);
        std::memcpy(header_ + 8, &sector, 8);
    }
    void put_range(uint32_t at, uint64_t capacity, bool zeroes) {
        const uint32_t count = static_cast<uint32_t>(below(9));
        const uint64_t sector = sector_near(capacity, count);
        uint32_t flags = zeroes && one_in(2) ? 1 : 0;
        if (one_in(12)) flags = static_cast<uint32_t>(one_in(2) ? rng_() : below(4));
        std::memcpy(&ram_[at], &sector, 8);
        std::memcpy(&ram_[at + 8], &count, 4);
        std::memcpy(&ram_[at + 12], &flags, 4);
    }

    std::vector<uint8_t> ram_;
    std::vector<Seg> segs_;
    uint8_t header_[16] = {};
};

} // namespace

TEST_CASE("blk request fuzz: 20,000 seeded inputs keep every invariant", "[core][virtio][blk][fuzz]") {
    Gen g(0x626c6b72);
    BlkRequestFuzzStats total;
    for (int i = 0; i < 20000; ++i) {
        std::string input = g.one_in(8) ? g.bytes(g.below(300)) : g.request();
        for (size_t m = g.one_in(4) ? g.below(3) : 0; m > 0; --m) g.mutate(input);
        BlkRequestFuzzStats s;
        const std::string why = hv::fuzz::blk_request_fuzz_check(hv::fuzz::as_bytes(input), input.size(), s);
        INFO("input #" << i << ": " << hv::fuzz::hex(input));
        REQUIRE(why == "");
        total.undecodable += s.undecodable;
        total.accepted += s.accepted;
        total.io_errors += s.io_errors;
        total.unsupported += s.unsupported;
        total.data += s.data;
        total.ranges += s.ranges;
    }
    // The inputs reached every verdict: requests accepted with data and
    // with ranges, refused both ways, and chains that carry no answer.
    INFO("undecodable " << total.undecodable << " accepted " << total.accepted << " io_errors " << total.io_errors
                        << " unsupported " << total.unsupported << " data " << total.data << " ranges "
                        << total.ranges);
    CHECK(total.accepted > 3000);
    CHECK(total.data > 700);
    CHECK(total.ranges > 700);
    CHECK(total.io_errors > 5000);
    CHECK(total.unsupported > 1200);
    CHECK(total.undecodable > 2000);
    CHECK(hv_blk_request_fuzz_one(nullptr, 0) == 0);
}
