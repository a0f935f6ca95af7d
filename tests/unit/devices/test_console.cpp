// Console: history ring (last 64 KiB), live listeners with an atomic
// replay on subscribe, the bounded input queue and its notify hook.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "devices/console.hpp"

using hv::dev::Console;

namespace {

void put(Console& c, const std::string& s) { c.write(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

// Deterministic, position-dependent bytes so a misplaced byte shows.
std::string pattern(size_t n, size_t seed = 0) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(((i + seed) * 131 + (i + seed) / 251) & 0xff);
    return s;
}

} // namespace

TEST_CASE("console: history keeps what was written, byte for byte", "[devices][console]") {
    Console c;
    CHECK(c.history().empty());
    put(c, "boot: ");
    put(c, std::string("a\0b\xff", 4));
    put(c, "");
    CHECK(c.history() == std::string("boot: a\0b\xff", 10));
}

TEST_CASE("console: history is the last 64 KiB", "[devices][console]") {
    Console c;
    const std::string all = pattern(Console::kHistory + 1000);
    // In uneven chunks so writes straddle the ring's wrap point.
    size_t off = 0;
    size_t chunk = 1;
    while (off < all.size()) {
        const size_t n = std::min(chunk, all.size() - off);
        put(c, all.substr(off, n));
        off += n;
        chunk = chunk * 3 + 7;
    }
    const std::string h = c.history();
    REQUIRE(h.size() == Console::kHistory);
    CHECK(h == all.substr(1000));

    // Exactly full: everything kept.
    Console d;
    const std::string full = pattern(Console::kHistory, 5);
    put(d, full);
    CHECK(d.history() == full);
    put(d, "!");
    CHECK(d.history() == full.substr(1) + "!");
}

TEST_CASE("console: listeners get live output; replay gives history first, once", "[devices][console]") {
    Console c;
    put(c, "before ");
    std::vector<std::string> live, replayed;
    c.subscribe([&](std::string_view s) { live.emplace_back(s); });
    c.subscribe([&](std::string_view s) { replayed.emplace_back(s); }, true);
    CHECK(live.empty());
    REQUIRE(replayed.size() == 1);
    CHECK(replayed[0] == "before ");

    put(c, "after");
    put(c, "!");
    CHECK(live == (std::vector<std::string>{"after", "!"}));
    CHECK(replayed == (std::vector<std::string>{"before ", "after", "!"}));
}

TEST_CASE("console: replay with no history delivers nothing until output", "[devices][console]") {
    Console c;
    std::vector<std::string> got;
    c.subscribe([&](std::string_view s) { got.emplace_back(s); }, true);
    CHECK(got.empty());
    put(c, "x");
    CHECK(got == std::vector<std::string>{"x"});
}

TEST_CASE("console: replay after wrap-around gives only the last 64 KiB", "[devices][console]") {
    Console c;
    const std::string all = pattern(Console::kHistory * 2 + 3);
    put(c, all);
    std::string got;
    int calls = 0;
    c.subscribe(
        [&](std::string_view s) {
            got.append(s);
            ++calls;
        },
        true);
    CHECK(calls == 1);
    CHECK(got == all.substr(all.size() - Console::kHistory));
}

TEST_CASE("console: unsubscribe stops delivery to that listener only", "[devices][console]") {
    Console c;
    std::string a, b;
    const int ia = c.subscribe([&](std::string_view s) { a.append(s); });
    const int ib = c.subscribe([&](std::string_view s) { b.append(s); });
    CHECK(ia != ib);
    put(c, "1");
    c.unsubscribe(ia);
    put(c, "2");
    c.unsubscribe(ia);     // twice: harmless
    c.unsubscribe(12345);  // unknown: harmless
    put(c, "3");
    CHECK(a == "1");
    CHECK(b == "123");
    c.unsubscribe(ib);
    put(c, "4");
    CHECK(b == "123");
    CHECK(c.history() == "1234");
    // Ids are not reused.
    const int ic = c.subscribe([](std::string_view) {});
    CHECK(ic != ia);
    CHECK(ic != ib);
}

TEST_CASE("console: a replaying subscriber attached mid-stream sees every byte exactly once", "[devices][console]") {
    // Writer and subscriber race; whatever the interleaving, replay + live
    // must be exactly the whole stream (it stays under the history size).
    Console c;
    const std::string all = pattern(20000, 3);
    std::string got;
    std::thread writer([&] {
        for (char ch : all) c.write(reinterpret_cast<const uint8_t*>(&ch), 1);
    });
    const int id = c.subscribe([&](std::string_view s) { got.append(s); }, true);
    writer.join();
    c.unsubscribe(id);
    CHECK(got.size() == all.size());
    CHECK(got == all);
}

TEST_CASE("console: input is read in order, up to cap", "[devices][console]") {
    Console c;
    CHECK_FALSE(c.has_input());
    uint8_t buf[8] = {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};
    CHECK(c.read_input(buf, sizeof buf) == 0u);
    CHECK(int{buf[0]} == 0x55);

    CHECK(c.push_input("abc") == 3u);
    CHECK(c.push_input(std::string("d\0e", 3)) == 3u);
    CHECK(c.has_input());
    CHECK(c.read_input(buf, 2) == 2u);
    CHECK(int{buf[0]} == 'a');
    CHECK(int{buf[1]} == 'b');
    CHECK(int{buf[2]} == 0x55);
    CHECK(c.read_input(buf, 0) == 0u);
    CHECK(c.read_input(buf, sizeof buf) == 4u);
    CHECK(std::string(reinterpret_cast<char*>(buf), 4) == std::string("cd\0e", 4));
    CHECK_FALSE(c.has_input());
    // Input is not output.
    CHECK(c.history().empty());
}

TEST_CASE("console: push_input caps the queue at kMaxInput and notifies", "[devices][console]") {
    Console c;
    int notified = 0;
    c.set_input_notify([&] { ++notified; });

    CHECK(c.push_input("") == 0u);
    CHECK(notified == 0);

    const std::string big = pattern(Console::kMaxInput + 904);
    CHECK(c.push_input(big) == Console::kMaxInput);
    CHECK(notified == 1);
    CHECK(c.push_input("more") == 0u); // full: nothing taken, no notify
    CHECK(notified == 1);

    std::vector<uint8_t> out(10);
    CHECK(c.read_input(out.data(), out.size()) == 10u);
    CHECK(std::string(out.begin(), out.end()) == big.substr(0, 10));
    CHECK(c.push_input("0123456789ABC") == 10u); // room for ten
    CHECK(notified == 2);

    std::vector<uint8_t> rest(Console::kMaxInput + 100);
    REQUIRE(c.read_input(rest.data(), rest.size()) == Console::kMaxInput);
    const std::string got(rest.begin(), rest.begin() + static_cast<long>(Console::kMaxInput));
    CHECK(got == big.substr(10, Console::kMaxInput - 10) + "0123456789");
    CHECK_FALSE(c.has_input());
}

TEST_CASE("console: push_input without a notify hook", "[devices][console]") {
    Console c;
    CHECK(c.push_input("ok") == 2u);
    uint8_t b[2] = {};
    CHECK(c.read_input(b, 2) == 2u);
    CHECK(int{b[0]} == 'o');
    CHECK(int{b[1]} == 'k');
}
