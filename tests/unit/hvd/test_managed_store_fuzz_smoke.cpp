// The managed-record fuzz target (tests/fuzz/managed_store_fuzz.cpp) run as
// a unit test: a seed corpus of records, then 20,000 seeded inputs (random
// bytes, records serialized from random requests, and seeds and records
// with a few mutations each) through the same checks libFuzzer runs.
// Reproducible: the seed is fixed and a failure prints its input in hex.
#include <catch2/catch.hpp>

#include <algorithm>

#include "../../fuzz/fuzz_smoke.hpp"

#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "managed_store.hpp"

#include "../../fuzz/managed_store_fuzz.hpp"

using hv::fuzz::ManagedStoreFuzzStats;
using hvd::ManagedStore;

namespace {

const std::vector<std::string> seeds = {
    "hvdom 1\nsource 0\n\npaused 1\n0\nconfig 0\n\nend\n",
    "hvdom 1\nsource 13\n/etc/hv/a.cfg\noverride 10\nmemory=256\noverride 5\nvcpus\npaused 1\n1\n"
    "config 30\nname = \"a\"\nkernel = \"/boot/k\"\n\nend\n",
    "hvdom 1\nsource 3\na\nb\noverride 0\n\npaused 1\n0\nconfig 5\nend\n\n\nend\n",
    "hvdom 2\nsource 0\n\n",
    "source 3\nabc\nconfig\n",
    "hvdom 1\nsource 01\na\n",
    "hvdom 1\nsource 99999999\n",
    "hvdom 1\nsource 0\n\npaused 1\n2\nconfig 0\n\nend\n",
    "hvdom 1\nsource 0\n\nconfig 0\n\npaused 1\n0\nend\n",
    "hvdom 1\nsource 0\n\npaused 1\n0\nconfig 0\n\nend\ntrailing",
    "hvdom 1\nsource 0\n\npaused 1\n0\nconfig 0\n\n",
    "",
};

class Gen : public hv::fuzz::SmokeGen {
public:
    using SmokeGen::SmokeGen;

    // Field text that looks like the record's own lines now and then.
    std::string field() {
        static const char* const pieces[] = {"\n", "end\n", "config 3\n", "override 1\n", "hvdom 1\n", "0", "1",
                                             "name = \"a\"\n", "\xff"};
        std::string s;
        for (size_t n = below(5); n > 0; --n) {
            if (one_in(2)) s += bytes(below(6));
            else s += pieces[below(std::size(pieces))];
        }
        if (one_in(8)) s.push_back('\0');
        return s;
    }
    std::string record() {
        hv::sdk::CreateRequest req;
        if (one_in(3)) { // a typed spec (a crash restart's record)
            hv::sdk::DomainSpec d;
            d.name = bytes(below(12));
            d.name.erase(std::remove(d.name.begin(), d.name.end(), '\0'), d.name.end());
            d.kernel = field();
            d.cmdline = field();
            d.memory_mib = below(1u << 20);
            d.vcpus = static_cast<uint32_t>(below(300));
            if (one_in(2)) d.uuid = hv::sdk::Uuid{static_cast<uint8_t>(below(256))};
            d.on_crash = static_cast<hv::sdk::Action>(below(9));
            req.spec = d;
            req.paused = one_in(2);
            return ManagedStore::serialize(req);
        }
        req.source = field();
        req.config_text = field();
        for (size_t n = below(4); n > 0; --n) req.overrides.push_back(field());
        req.paused = one_in(2);
        return ManagedStore::serialize(req);
    }
    void mutate(std::string& s) {
        static const char* const tokens[] = {"\n", " ", "0", "1", "9", "01", "99999999", "100000000", "end\n",
                                             "source ", "override ", "paused ", "config ", "hvdom 1\n", "hvdom 2"};
        if (s.empty()) {
            s = tokens[below(std::size(tokens))];
            return;
        }
        switch (below(7)) {
        case 0: s[below(s.size())] ^= static_cast<char>(1u << below(8)); break;
        case 1: s[below(s.size())] = static_cast<char>(rng_()); break;
        case 2: s.insert(below(s.size() + 1), tokens[below(std::size(tokens))]); break;
        case 3: s.insert(below(s.size() + 1), bytes(1 + below(4))); break;
        case 4: s.erase(below(s.size()), 1 + below(12)); break;
        case 5: s.resize(below(s.size())); break;
        case 6: { // duplicate a range
            const size_t at = below(s.size());
            s.insert(below(s.size() + 1), s.substr(at, 1 + below(48)));
            break;
        }
        }
    }
};

using hv::fuzz::as_bytes;
using hv::fuzz::hex;

ManagedStoreFuzzStats check(const std::string& input) {
    ManagedStoreFuzzStats stats;
    const std::string why = hv::fuzz::managed_store_fuzz_check(as_bytes(input), input.size(), stats);
    INFO("input " << hex(input));
    CHECK(why == "");
    return stats;
}

} // namespace

TEST_CASE("managed store fuzz: the harness sees what the seeds do", "[hvd][fuzz]") {
    ManagedStoreFuzzStats s = check(seeds[0]);
    CHECK(s.parsed == 1);
    CHECK(s.built == 1);
    s = check(seeds[1]);
    CHECK(s.parsed == 1);
    CHECK(s.overrides == 2);
    s = check(seeds[2]); // fields holding newlines and "end"
    CHECK(s.parsed == 1);
    CHECK(s.overrides == 1);
    for (size_t i = 3; i < seeds.size(); ++i) {
        s = check(seeds[i]);
        CHECK(s.refused == 1);
        CHECK(s.built == 1);
    }
    CHECK(hv_managed_store_fuzz_one(as_bytes(seeds[1]), seeds[1].size()) == 0);
    CHECK(hv_managed_store_fuzz_one(nullptr, 0) == 0);
}

TEST_CASE("managed store fuzz: 20,000 seeded random and mutated inputs keep every invariant", "[hvd][fuzz]") {
    Gen g(0x6876'6d73'7466'7a7aull); // "hvmstfzz"
    ManagedStoreFuzzStats total;
    size_t failures = 0;
    constexpr int kInputs = 20'000;
    for (int i = 0; i < kInputs; ++i) {
        std::string input;
        if (i % 10 == 0) {
            input = g.bytes(g.below(200));
        } else if (i % 10 <= 3) {
            input = g.record();
        } else {
            input = g.one_in(3) ? seeds[g.below(seeds.size())] : g.record();
            for (size_t m = 1 + g.below(3); m > 0; --m) g.mutate(input);
        }
        ManagedStoreFuzzStats s;
        const std::string why = hv::fuzz::managed_store_fuzz_check(as_bytes(input), input.size(), s);
        if (!why.empty() && ++failures <= 5) {
            INFO("input #" << i << ": " << hex(input));
            CHECK(why == "");
        }
        total.parsed += s.parsed;
        total.refused += s.refused;
        total.overrides += s.overrides;
        total.built += s.built;
    }
    CHECK(failures == 0);
    INFO("parsed " << total.parsed << " refused " << total.refused << " overrides " << total.overrides << " built "
                   << total.built);
    CHECK(total.parsed > 6'000);
    CHECK(total.refused > 6'000);
    CHECK(total.overrides > 5'000);
    CHECK(total.built == kInputs);
}
