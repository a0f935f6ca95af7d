// The virtio-net fuzz target (tests/fuzz/net_fuzz.cpp) run as a unit test:
// 12,000 seeded inputs through the same checks libFuzzer runs. Most are
// receive queues as a driver fills them (one writable buffer a chain of
// Linux's sizes, "big packets" chains of many buffers, tiny buffers, some
// through indirect tables, some with readable buffers, some broken, fewer
// chains than a frame needs, an available index past the queue), with
// frames from 0 to 70,000 bytes and transmit headers near each rule's
// edge; the rest random bytes, and a few mutated bytes in a quarter of
// them. Reproducible: the seed is fixed and a failure prints its input in
// hex.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../../fuzz/fuzz_smoke.hpp"
#include "../../fuzz/net_fuzz.hpp"

using hv::fuzz::NetFuzzStats;

namespace {

constexpr uint16_t kNext = 1, kWrite = 2, kIndirect = 4;

struct Desc {
    uint64_t addr = 0;
    uint32_t len = 0;
    uint16_t flags = 0;
    uint16_t next = 0;
};

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    std::string input() {
        const uint32_t qexp = static_cast<uint32_t>(one_in(6) ? below(4) : 4 + below(5));
        qsize_ = 1u << qexp;
        const bool mergeable = one_in(2);
        const bool event_idx = one_in(2);
        indirect_ = one_in(6);
        const uint32_t len = frame_len();

        table_.assign(qsize_, Desc{});
        itable_.clear();
        cursor_ = hv::fuzz::kNetFuzzData;
        heads_.clear();
        const size_t style = below(10);
        if (style == 9) {
            // Garbage descriptors, a plausible index.
            for (Desc& d : table_) {
                d.addr = one_in(2) ? rng_() : hv::fuzz::kNetFuzzData + below(0x1d000);
                d.len = static_cast<uint32_t>(one_in(4) ? rng_() : below(8192));
                d.flags = static_cast<uint16_t>(below(8));
                d.next = static_cast<uint16_t>(below(qsize_ + 2));
            }
            for (uint32_t i = 0; i < qsize_; ++i) heads_.push_back(static_cast<uint16_t>(below(qsize_ + 1)));
        } else {
            fill(style, mergeable);
        }
        uint16_t idx = static_cast<uint16_t>(heads_.size());
        if (one_in(5)) idx = static_cast<uint16_t>(below(idx + 1u)); // fewer offered than made
        if (one_in(60)) idx = static_cast<uint16_t>(qsize_ + 1 + below(4)); // past the queue

        std::string s;
        s += static_cast<char>(qexp);
        s += static_cast<char>((mergeable ? 1 : 0) | (event_idx ? 2 : 0) | (indirect_ ? 4 : 0) | (one_in(2) ? 8 | static_cast<int>(below(16)) << 4 : 0));
        put(s, len, 3);
        s += static_cast<char>(rng_());
        tx_header(s);
        for (const Desc& d : table_) put_desc(s, d);
        put(s, one_in(8) ? 1 : 0, 2); // avail flags
        put(s, idx, 2);
        for (uint32_t i = 0; i < qsize_; ++i) put(s, i < heads_.size() ? heads_[i] : 0, 2);
        put(s, below(4), 2); // used_event
        if (!itable_.empty()) {
            for (const Desc& d : itable_) put_desc(s, d);
        }
        return s;
    }

    void mutate(std::string& s) {
        if (s.empty()) return;
        s[below(s.size())] = static_cast<char>(rng_());
    }

private:
    uint32_t frame_len() {
        const size_t r = below(40);
        if (r == 0) return static_cast<uint32_t>(below(12));
        if (r < 16) return static_cast<uint32_t>(12 + 60 + below(1455));
        if (r < 24) return static_cast<uint32_t>(12 + below(100));
        if (r < 32) return static_cast<uint32_t>(12 + below(9000));
        if (r < 38) return static_cast<uint32_t>(12 + below(65550));
        return static_cast<uint32_t>(65562 + below(70000 - 65562 + 1));
    }

    // A buffer in the data area, or nothing (0 length) when it is full.
    Desc buffer(uint32_t size, bool writable) {
        Desc d;
        d.flags = writable ? kWrite : 0;
        if (one_in(200)) { // anywhere, rings included
            d.addr = below(hv::fuzz::kNetFuzzRam - size);
            d.len = size;
            return d;
        }
        if (cursor_ + size > hv::fuzz::kNetFuzzRam) return d;
        d.addr = cursor_;
        d.len = size;
        cursor_ = (cursor_ + size + 15) & ~uint64_t{15};
        return d;
    }

    // Driver-shaped chains until the queue, the descriptors or the data
    // area run out.
    void fill(size_t style, bool mergeable) {
        static constexpr uint32_t kSizes[] = {1536, 1526 + 12, 2048, 4096, 1518, 128};
        uint32_t base = kSizes[below(6)];
        if (style == 6) base = static_cast<uint32_t>(16 + below(500)); // tiny buffers
        if (!mergeable && style < 4 && one_in(2)) base = 65562;         // GUEST_TSO without mergeable
        const uint32_t want_chains = static_cast<uint32_t>(one_in(4) ? below(qsize_ + 1) : qsize_);
        uint32_t next_desc = 0;
        const size_t broken_at = one_in(8) ? below(want_chains + 1) : ~size_t{0};
        for (uint32_t c = 0; c < want_chains; ++c) {
            std::vector<Desc> chain;
            if (style == 4 || style == 5) {
                // "Big packets": a header buffer, then pages.
                if (one_in(2)) chain.push_back(buffer(12, true));
                for (size_t n = 1 + below(19); n > 0; --n)
                    chain.push_back(buffer(one_in(5) ? static_cast<uint32_t>(1 + below(4096)) : 4096, true));
            } else {
                uint32_t size = one_in(5) ? static_cast<uint32_t>(1 + below(base * 2)) : base;
                if (one_in(40)) size = 0;
                if (style == 7 && one_in(2)) chain.push_back(buffer(static_cast<uint32_t>(1 + below(64)), false));
                chain.push_back(buffer(size, !(style == 7 && one_in(4))));
                if (one_in(8)) chain.push_back(buffer(static_cast<uint32_t>(below(2048)), true));
            }
            if (chain.size() > 20 || chain.back().len == 0) {
                if (chain.back().len == 0 && cursor_ + 16 > hv::fuzz::kNetFuzzRam) break; // data area full
            }
            if (c == broken_at) {
                Desc& d = chain[below(chain.size())];
                switch (below(4)) {
                case 0: d.addr = hv::fuzz::kNetFuzzRam - d.len / 2 - 1; break;       // past RAM
                case 1: d.len = 0x80000000u; break;                                  // huge
                case 2: d.flags = static_cast<uint16_t>(d.flags & ~kWrite); break;   // read after write (maybe)
                default: d.flags = kIndirect | kNext; break;                          // indirect with next
                }
            }
            const bool via_indirect = indirect_ && one_in(3) && itable_.size() + chain.size() <= 256;
            if (via_indirect) {
                const size_t start = itable_.size();
                for (size_t i = 0; i < chain.size(); ++i) {
                    Desc d = chain[i];
                    if (i + 1 < chain.size()) d.flags |= kNext, d.next = static_cast<uint16_t>(i + 1);
                    itable_.push_back(d);
                }
                if (next_desc >= qsize_) break;
                Desc& m = table_[next_desc];
                m.addr = hv::fuzz::kNetFuzzIndirect + 16 * start;
                m.len = static_cast<uint32_t>(16 * chain.size());
                m.flags = kIndirect;
                heads_.push_back(static_cast<uint16_t>(next_desc++));
            } else {
                if (next_desc + chain.size() > qsize_) break;
                heads_.push_back(static_cast<uint16_t>(next_desc));
                for (size_t i = 0; i < chain.size(); ++i) {
                    Desc d = chain[i];
                    if (i + 1 < chain.size()) d.flags |= kNext, d.next = static_cast<uint16_t>(next_desc + 1);
                    table_[next_desc++] = d;
                }
            }
        }
        // Now and then the driver posts a head twice.
        if (one_in(30) && !heads_.empty()) heads_.push_back(heads_[below(heads_.size())]);
    }

    // A transmit header near each of check_net_tx_header's edges.
    void tx_header(std::string& s) {
        static constexpr uint8_t kFlags[] = {0, 1, 1, 1, 1, 2, 3, 0x80};
        static constexpr uint8_t kGso[] = {0, 0, 1, 4, 0x81, 0x84, 3, 0x80, 5};
        static constexpr uint32_t kLens[] = {13, 14, 15, 60, 1514, 9014, 65548, 65549, 65550, 70000};
        const uint32_t tx_len = one_in(8) ? static_cast<uint32_t>(below(1u << 24)) : kLens[below(10)];
        const uint8_t flags = one_in(10) ? static_cast<uint8_t>(rng_()) : kFlags[below(8)];
        const uint8_t gso = one_in(10) ? static_cast<uint8_t>(rng_()) : kGso[below(9)];
        const uint32_t csum_start = static_cast<uint32_t>(one_in(3) ? below(tx_len + 2) : 34);
        const uint32_t csum_offset =
            static_cast<uint32_t>(one_in(3) && tx_len >= csum_start ? tx_len - csum_start - below(3) : 16);
        s += static_cast<char>(flags);
        s += static_cast<char>(gso);
        put(s, below(128), 2);                                      // hdr_len
        put(s, one_in(4) ? 0 : one_in(2) ? 1448 : rng_(), 2);       // gso_size
        put(s, csum_start, 2);
        put(s, csum_offset, 2);
        put(s, one_in(2) ? 0 : rng_(), 2);                          // num_buffers
        put(s, tx_len, 3);
        s += static_cast<char>(one_in(2) ? 0x0f : rng_());          // features
    }

    static void put(std::string& s, uint64_t v, int n) {
        for (int i = 0; i < n; ++i) s += static_cast<char>(v >> (8 * i));
    }
    static void put_desc(std::string& s, const Desc& d) {
        put(s, d.addr, 8);
        put(s, d.len, 4);
        put(s, d.flags, 2);
        put(s, d.next, 2);
    }

    uint32_t qsize_ = 1;
    bool indirect_ = false;
    uint64_t cursor_ = 0;
    std::vector<Desc> table_, itable_;
    std::vector<uint16_t> heads_;
};

} // namespace

TEST_CASE("net fuzz: 12,000 seeded inputs keep every invariant", "[core][virtio][net][fuzz]") {
    Gen g(0x6e657466);
    NetFuzzStats total;
    for (int i = 0; i < 12000; ++i) {
        std::string input = g.one_in(10) ? g.bytes(g.below(600)) : g.input();
        for (size_t m = g.one_in(4) ? 1 + g.below(3) : 0; m > 0; --m) g.mutate(input);
        NetFuzzStats s;
        const std::string why = hv::fuzz::net_fuzz_check(hv::fuzz::as_bytes(input), input.size(), s);
        INFO("input #" << i << ": " << hv::fuzz::hex(input));
        REQUIRE(why == "");
        total.delivered += s.delivered;
        total.merged += s.merged;
        total.direct += s.direct;
        total.no_room += s.no_room;
        total.dropped += s.dropped;
        total.broken += s.broken;
        total.aliased += s.aliased;
        total.tx_accepted += s.tx_accepted;
        total.tx_refused += s.tx_refused;
    }
    // Every outcome was reached often, and most inputs got the full checks.
    INFO("delivered " << total.delivered << " merged " << total.merged << " direct " << total.direct << " no_room " << total.no_room << " dropped "
                      << total.dropped << " broken " << total.broken << " aliased " << total.aliased
                      << " tx_accepted " << total.tx_accepted << " tx_refused " << total.tx_refused);
    CHECK(total.delivered > 4000);
    CHECK(total.merged > 700);
    CHECK(total.direct > 1500);
    CHECK(total.no_room > 1000);
    CHECK(total.dropped > 1200);
    CHECK(total.broken > 1300);
    CHECK(total.aliased < 600);
    CHECK(total.tx_accepted > 400);
    CHECK(total.tx_refused > 5000);
    CHECK(hv_net_fuzz_one(nullptr, 0) == 0);
}
