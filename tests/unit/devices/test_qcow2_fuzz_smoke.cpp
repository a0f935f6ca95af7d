// The qcow2 fuzz target (tests/fuzz/qcow2_fuzz.cpp) run as a unit test:
// images qemu-img made (512-byte and 4 KiB clusters, data, zero and
// compressed clusters, version 2, a snapshot) and 3,000 seeded mutations
// of them: header fields set to edge values, L1/L2/refcount entries
// bent, bytes flipped, files cut short or grown, through the same checks
// libFuzzer runs. Reproducible: the seed is fixed and a failure prints
// its input in hex.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "../../fuzz/fuzz_smoke.hpp"
#include "../../fuzz/qcow2_fuzz.hpp"
#include "qcow2_test_util.hpp"

using hv::fuzz::Qcow2FuzzStats;
using namespace qcow2_test;

namespace {

std::vector<std::string> seeds(const TempDir& d) {
    const auto img = [&](const std::string& name) { return "'" + d / name + "'"; };
    must("qemu-img create -q -f qcow2 -o cluster_size=512 " + img("a") + " 256k");
    must("qemu-io -f qcow2 -c 'write -P 0xab 0 3k' -c 'write -P 0xcd 100k 1k' -c 'write -z 8k 2k' " + img("a"));
    must("qemu-img create -q -f qcow2 -o cluster_size=4k " + img("b") + " 1M");
    must("qemu-io -f qcow2 -c 'write -P 0x11 4k 8k' -c 'write -P 0x22 512k 4k' " + img("b"));
    std::string text;
    for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i * 7919 % 1000) + " of the seed\n";
    text.resize(32768);
    put(d / "src", text);
    must("qemu-img convert -c -O qcow2 -o cluster_size=4k " + img("src") + " " + img("c"));
    must("qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=512 " + img("v2") + " 64k");
    must("qemu-io -f qcow2 -c 'write -P 0x33 0 2k' " + img("v2"));
    must("qemu-img create -q -f qcow2 -o cluster_size=512 " + img("s") + " 64k");
    must("qemu-io -f qcow2 -c 'write -P 0x44 0 1k' " + img("s") + " && qemu-img snapshot -c one " + img("s"));
    std::vector<std::string> out;
    for (const char* n : {"a", "b", "c", "v2", "s"}) out.push_back(contents(d / n));
    return out;
}

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    void mutate(std::string& s) {
        if (s.size() < 8) {
            s += bytes(below(16));
            return;
        }
        switch (below(8)) {
        case 0: s[below(s.size())] = static_cast<char>(rng_()); break;
        case 1: s[below(s.size())] ^= static_cast<char>(1u << below(8)); break;
        case 2: { // a header field, an edge value
            static constexpr size_t kFields[][2] = {{4, 4},  {8, 8},  {16, 4}, {20, 4}, {24, 8}, {32, 4}, {36, 4},  {40, 8},
                                                     {48, 8}, {56, 4}, {60, 4}, {64, 8}, {72, 8}, {88, 8}, {96, 4}, {100, 4}};
            const auto& f = kFields[below(std::size(kFields))];
            put_be(s, f[0], edge(s.size()), static_cast<int>(f[1]));
            break;
        }
        case 3: case 4: { // a table entry: an L1 entry, or an entry of the cluster it points at
            if (s.size() < 104) break;
            const uint64_t l1 = be(s, 40, 8);
            uint64_t at = l1;
            if (below(2) == 0 && l1 + 8 <= s.size()) at = (be(s, static_cast<size_t>(l1), 8) & 0x00fffffffffffe00) + 8 * below(8);
            if (below(3) == 0) at = be(s, 48, 8) + 8 * below(4); // the refcount table
            if (at + 8 <= s.size()) put_be(s, static_cast<size_t>(at), entry(s.size()), 8);
            break;
        }
        case 5: s.resize(below(s.size() + 1)); break;
        case 6: s += bytes(below(2048)); break;
        default: { // a run of bytes copied from elsewhere
            const size_t from = below(s.size()), to = below(s.size());
            const size_t n = std::min({below(64), s.size() - from, s.size() - to});
            s.replace(to, n, s.substr(from, n));
            break;
        }
        }
    }

private:
    uint64_t edge(size_t file) {
        static constexpr uint64_t kEdges[] = {0, 1, 2, 3, 8, 9, 21, 22, 512, 0x10000, 0xffffffff, ~uint64_t{0}, uint64_t{1} << 63};
        if (one_in(3)) return file + below(3) - 1;
        if (one_in(4)) return rng_();
        return kEdges[below(std::size(kEdges))];
    }
    uint64_t entry(size_t file) {
        const uint64_t flags = (one_in(2) ? uint64_t{1} << 63 : 0) | (one_in(4) ? uint64_t{1} << 62 : 0) | (one_in(4) ? 1 : 0);
        const uint64_t where = one_in(3) ? rng_() : one_in(2) ? (below(file + 1024) & ~uint64_t{511}) : below(file + 1024);
        return flags | (where & 0x3fffffffffffffff);
    }
    static void put_be(std::string& s, size_t at, uint64_t v, int n) {
        if (at + static_cast<size_t>(n) > s.size()) return;
        for (int i = n - 1; i >= 0; --i, v >>= 8) s[at + static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    }
};

} // namespace

TEST_CASE("qcow2 fuzz: 3,000 seeded inputs keep every invariant", "[devices][qcow2][fuzz]") {
    require_qemu_img();
    TempDir d;
    const std::vector<std::string> base = seeds(d);
    Gen g(0x71636f77);
    Qcow2FuzzStats total;
    const auto run = [&](const std::string& input, int i) {
        Qcow2FuzzStats s;
        const std::string why = hv::fuzz::qcow2_fuzz_check(hv::fuzz::as_bytes(input), input.size(), s);
        INFO("input #" << i << " (" << input.size() << " bytes): " << hv::fuzz::hex(input));
        REQUIRE(why == "");
        total.refused += s.refused;
        total.opened += s.opened;
        total.reads_ok += s.reads_ok;
        total.read_errors += s.read_errors;
        total.rw_opened += s.rw_opened;
        total.writes_ok += s.writes_ok;
        total.write_errors += s.write_errors;
    };
    for (size_t k = 0; k < base.size(); ++k) run(base[k], -1 - static_cast<int>(k));
    for (int i = 0; i < 3000; ++i) {
        std::string input = g.one_in(50) ? g.bytes(g.below(600)) : base[g.below(base.size())];
        for (size_t m = 1 + g.below(3); m > 0; --m) g.mutate(input);
        run(input, i);
    }
    INFO("refused " << total.refused << " opened " << total.opened << " reads_ok " << total.reads_ok << " read_errors "
                    << total.read_errors << " rw_opened " << total.rw_opened << " writes_ok " << total.writes_ok
                    << " write_errors " << total.write_errors);
    CHECK(total.refused > 300);
    CHECK(total.opened > 1000);
    CHECK(total.reads_ok > 5000);
    CHECK(total.read_errors > 100);
    CHECK(total.rw_opened > 500);
    CHECK(total.writes_ok > 1000);
    CHECK(total.write_errors > 50);
    CHECK(hv_qcow2_fuzz_one(nullptr, 0) == 0);
}
