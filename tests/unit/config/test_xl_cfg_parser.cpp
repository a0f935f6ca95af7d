// xl.cfg(5) syntax: every form the parser accepts, and every malformed input
// with the exact line:column it is reported at.
#include <catch2/catch.hpp>

#include <string>

#include "config/xl_cfg_parser.hpp"

using hv::config::CfgValue;
using hv::config::parse_cfg_number;
using hv::config::parse_xl_cfg;
using hv::config::parse_xl_cfg_into;
using hv::config::XlCfg;
using hv::config::XlCfgOptions;
using Kind = CfgValue::Kind;

namespace {

XlCfg parse_ok(std::string_view text, XlCfgOptions options = {}) {
    auto r = parse_xl_cfg(text, "t.cfg", options);
    INFO((r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return std::move(r).value();
}

// The error message; the code must be parse_error.
std::string parse_error(std::string_view text, XlCfgOptions options = {}) {
    auto r = parse_xl_cfg(text, "t.cfg", options);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == hv::Errc::parse_error);
    return r.error().message;
}

const CfgValue& value_of(const XlCfg& cfg, std::string_view key) {
    const auto* s = cfg.find(key);
    INFO("key " << key);
    REQUIRE(s != nullptr);
    return s->value;
}

const XlCfgOptions bare{.bare_words = true};

} // namespace

TEST_CASE("xl_cfg: double and single quoted strings, with locations", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok("name = \"guest\"\n  kernel='/boot/vmlinuz'\n");
    REQUIRE(cfg.settings.size() == 2);
    const auto& name = cfg.settings[0];
    CHECK(name.key == "name");
    CHECK(name.value.kind == Kind::string);
    CHECK(name.value.text == "guest");
    CHECK(name.where.str() == "t.cfg:1:1");
    CHECK(name.value.where.str() == "t.cfg:1:8");
    const auto& kernel = cfg.settings[1];
    CHECK(kernel.key == "kernel");
    CHECK(kernel.value.text == "/boot/vmlinuz");
    CHECK(kernel.where.line == 2);
    CHECK(kernel.where.column == 3);
    CHECK(kernel.value.where.column == 10);
}

TEST_CASE("xl_cfg: numbers in decimal, hex and octal", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok("a = 42\nb = 0x1F\nc = 010\nd = 0\ne = 18446744073709551615\n");
    CHECK(value_of(cfg, "a").kind == Kind::number);
    CHECK(value_of(cfg, "a").number == 42);
    CHECK(value_of(cfg, "b").number == 31);
    CHECK(value_of(cfg, "b").text == "0x1F"); // as written
    CHECK(value_of(cfg, "c").number == 8);
    CHECK(value_of(cfg, "d").number == 0);
    CHECK(value_of(cfg, "e").number == UINT64_MAX);
}

TEST_CASE("xl_cfg: parse_cfg_number", "[config][xl_cfg]") {
    uint64_t n = 7;
    CHECK((parse_cfg_number("0", n) && n == 0));
    CHECK((parse_cfg_number("128", n) && n == 128));
    CHECK((parse_cfg_number("0x10", n) && n == 16));
    CHECK((parse_cfg_number("0XfF", n) && n == 255));
    CHECK((parse_cfg_number("017", n) && n == 15));
    CHECK((parse_cfg_number("0xffffffffffffffff", n) && n == UINT64_MAX));
    n = 7;
    for (const char* bad : {"", "0x", "08", "1a", "-1", " 1", "1 ", "+1", "1.5", "18446744073709551616",
                            "0x10000000000000000"}) {
        INFO(bad);
        CHECK_FALSE(parse_cfg_number(bad, n));
    }
    CHECK(n == 7); // untouched on failure
}

TEST_CASE("xl_cfg: lists span lines, take comments and a trailing comma", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok("disk = [\n"
                               "    'a', # first\n"
                               "\n"
                               "    \"b\",\n"
                               "    3,\n"
                               "]\n"
                               "vif = [ 'x' ]\n");
    const CfgValue& disk = value_of(cfg, "disk");
    REQUIRE(disk.kind == Kind::list);
    CHECK(disk.where.str() == "t.cfg:1:8");
    REQUIRE(disk.items.size() == 3);
    CHECK(disk.items[0].text == "a");
    CHECK(disk.items[0].where.str() == "t.cfg:2:5");
    CHECK(disk.items[1].text == "b");
    CHECK(disk.items[1].where.line == 4);
    CHECK(disk.items[2].kind == Kind::number);
    CHECK(disk.items[2].number == 3);
    CHECK(cfg.settings[1].where.line == 7);
    CHECK(value_of(cfg, "vif").items.size() == 1);
}

TEST_CASE("xl_cfg: empty lists", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok("a = []\nb = [\n\n]\n");
    CHECK(value_of(cfg, "a").kind == Kind::list);
    CHECK(value_of(cfg, "a").items.empty());
    CHECK(value_of(cfg, "b").items.empty());
}

TEST_CASE("xl_cfg: ';' separates settings; empty statements are fine", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok(";;a=1; b=\"x\";c='y';\n;\n");
    REQUIRE(cfg.settings.size() == 3);
    CHECK(cfg.settings[1].where.str() == "t.cfg:1:8");
    CHECK(cfg.settings[2].where.str() == "t.cfg:1:14");
    CHECK(value_of(cfg, "c").text == "y");
}

TEST_CASE("xl_cfg: comments, blank lines, CRLF and no final newline", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok("# heading\n\n   # indented\nname = 'x' # trailing\r\nmemory = 5");
    REQUIRE(cfg.settings.size() == 2);
    CHECK(cfg.settings[0].where.str() == "t.cfg:4:1");
    CHECK(value_of(cfg, "name").text == "x");
    CHECK(value_of(cfg, "memory").number == 5);
    CHECK(parse_ok("").settings.empty());
    CHECK(parse_ok("# only a comment").settings.empty());
}

TEST_CASE("xl_cfg: a repeated key keeps its place and takes the last value", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok("a = 1\nb = 2\na = 'three'\n");
    REQUIRE(cfg.settings.size() == 2);
    CHECK(cfg.settings[0].key == "a");
    CHECK(cfg.settings[0].value.text == "three");
    CHECK(cfg.settings[0].where.line == 3);
    CHECK(cfg.find("nope") == nullptr);
}

TEST_CASE("xl_cfg: += appends to lists and strings, or sets a new key", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok("disk = ['a']\ndisk += ['b', 'c']\nextra = 'x'\nextra += ' y'\nvif += ['v']\n");
    const CfgValue& disk = value_of(cfg, "disk");
    REQUIRE(disk.items.size() == 3);
    CHECK(disk.items[2].text == "c");
    CHECK(disk.items[2].where.str() == "t.cfg:2:15");
    CHECK(value_of(cfg, "extra").text == "x y");
    CHECK(value_of(cfg, "vif").items.size() == 1);
    CHECK(cfg.settings[0].where.line == 2); // the last assignment
    CHECK(cfg.find("disk")->appended);       // last set with '+='
    CHECK(cfg.find("vif")->appended);        // '+=' on a new key
    const XlCfg again = parse_ok("m = '1'\nm += '2'\nm = '3'\nn = 4\n");
    CHECK_FALSE(again.find("m")->appended);  // '=' after '+=' starts over
    CHECK_FALSE(again.find("n")->appended);
}

TEST_CASE("xl_cfg: += on numbers or mixed kinds is refused", "[config][xl_cfg]") {
    CHECK(parse_error("a = 1\na += 2\n") == "t.cfg:2:6: a: '+=' works on strings and lists, not numbers");
    CHECK(parse_error("a = 'x'\na += 2\n") == "t.cfg:2:6: a: '+=' works on strings and lists, not numbers");
    CHECK(parse_error("e = 'x'\ne += ['y']\n") == "t.cfg:2:6: e: '+=' cannot add a list to the string set at t.cfg:1:1");
    CHECK(parse_error("d = ['x']\n\nd += 'y'\n") == "t.cfg:3:6: d: '+=' cannot add a string to the list set at t.cfg:1:1");
}

TEST_CASE("xl_cfg: backslash escapes in both quote kinds", "[config][xl_cfg]") {
    const XlCfg cfg = parse_ok(R"(d = "q\"b\\s\'n\nt\tx\x41o\101\7e\a\b\f\r\v"
s = 'it\'s\t"ok"')");
    CHECK(value_of(cfg, "d").text == "q\"b\\s'n\nt\txAoA\7e\a\b\f\r\v");
    CHECK(value_of(cfg, "s").text == "it's\t\"ok\"");
    CHECK(value_of(parse_ok(R"(h = "\xfF")"), "h").text == "\xff");
    CHECK(value_of(parse_ok(R"(o = "\1234")"), "o").text == "S4"); // at most three octal digits
}

TEST_CASE("xl_cfg: bad escapes point at the backslash", "[config][xl_cfg]") {
    CHECK(parse_error(R"(s = "ab\q")") == R"(t.cfg:1:8: s: unknown escape '\q' in string)");
    CHECK(parse_error(R"(s = "\x4")") == R"(t.cfg:1:6: s: bad \x escape (needs two hex digits))");
    CHECK(parse_error(R"(s = '\xg1')") == R"(t.cfg:1:6: s: bad \x escape (needs two hex digits))");
    CHECK(parse_error(R"(s = "\400")") == R"(t.cfg:1:6: s: octal escape out of range (max \377))");
    CHECK(parse_error("x = 1\ns = \"a\\0\"") == "t.cfg:2:7: s: escape makes a NUL character");
}

TEST_CASE("xl_cfg: unterminated strings point at the opening quote", "[config][xl_cfg]") {
    CHECK(parse_error("a = 1\nname = \"abc\nb = 2\n") == "t.cfg:2:8: name: unterminated string (no closing \")");
    CHECK(parse_error("name = 'abc") == "t.cfg:1:8: name: unterminated string (no closing ')");
    CHECK(parse_error("name = 'abc\\") == "t.cfg:1:8: name: unterminated string (no closing ')");
    CHECK(parse_error("name = 'abc\\\n'") == "t.cfg:1:8: name: unterminated string (no closing ')");
    CHECK(parse_error("disk = ['a', 'b\n]") == "t.cfg:1:14: disk: unterminated string (no closing ')");
}

TEST_CASE("xl_cfg: missing '=' and missing keys", "[config][xl_cfg]") {
    CHECK(parse_error("memory 128") == "t.cfg:1:8: memory: expected '=' after the key, found number 128");
    CHECK(parse_error("name='a'\nmemory\n") == "t.cfg:2:7: memory: expected '=' after the key, found end of line");
    CHECK(parse_error("memory") == "t.cfg:1:7: memory: expected '=' after the key, found end of input");
    CHECK(parse_error("a : 1") == "t.cfg:1:3: a: unexpected character ':'");
    CHECK(parse_error("= 5") == "t.cfg:1:1: expected a key, found '='");
    CHECK(parse_error("\n  \"x\" = 1") == "t.cfg:2:3: expected a key, found string \"x\"");
    CHECK(parse_error("5 = 1") == "t.cfg:1:1: expected a key, found number 5");
    CHECK(parse_error("[a] = 1") == "t.cfg:1:1: expected a key, found '['");
}

TEST_CASE("xl_cfg: bad characters", "[config][xl_cfg]") {
    CHECK(parse_error("@foo = 1") == "t.cfg:1:1: unexpected character '@'");
    CHECK(parse_error("name = 'x'\nmemory = 12 * 2\n") == "t.cfg:2:13: memory: unexpected character '*'");
    CHECK(parse_error("a = -1") == "t.cfg:1:5: a: unexpected character '-'");
    CHECK(parse_error("a + 1") == "t.cfg:1:3: a: unexpected character '+'");
    CHECK(parse_error("kernel = /boot/x") == "t.cfg:1:10: kernel: unexpected character '/'");
    CHECK(parse_error("name = 'x' + 'y'") == "t.cfg:1:12: name: unexpected character '+'");
    CHECK(parse_error(std::string("a = \0", 5)) == "t.cfg:1:5: a: unexpected character '\\x00'");
    // A seed's typographic quotes (vif = [“...”]) are bytes, not quotes.
    CHECK(parse_error("vif = [\xe2\x80\x9cmac=00:16:3E:02:00:41\xe2\x80\x9d ]") ==
          "t.cfg:1:8: vif: unexpected character '\\xe2'");
}

TEST_CASE("xl_cfg: bad numbers", "[config][xl_cfg]") {
    CHECK(parse_error("memory = 128M") ==
          "t.cfg:1:10: memory: bad number '128M' (decimal, 0x hex or 0 octal, at most 64 bits)");
    CHECK(parse_error("vcpus = 08").find("t.cfg:1:9: vcpus: bad number '08'") == 0);
    CHECK(parse_error("a = 0x").find("t.cfg:1:5: a: bad number '0x'") == 0);
    CHECK(parse_error("a = 18446744073709551616").find("t.cfg:1:5: a: bad number") == 0);
    CHECK(parse_error("a = 1.5") == "t.cfg:1:6: a: unexpected character '.'");
}

TEST_CASE("xl_cfg: empty and misplaced values", "[config][xl_cfg]") {
    CHECK(parse_error("memory =\n") == "t.cfg:1:9: memory: empty value");
    CHECK(parse_error("memory = ;") == "t.cfg:1:10: memory: empty value");
    CHECK(parse_error("memory = # none\nname='x'") == "t.cfg:1:16: memory: empty value");
    CHECK(parse_error("name='x'\nmemory =") == "t.cfg:2:9: memory: empty value");
    CHECK(parse_error("a = = 1") == "t.cfg:1:5: a: expected a value, found '='");
    CHECK(parse_error("a = ]") == "t.cfg:1:5: a: expected a value, found ']'");
    CHECK(parse_error("a = ,") == "t.cfg:1:5: a: expected a value, found ','");
    CHECK(parse_error("kernel = vmlinuz") == "t.cfg:1:10: kernel: unquoted word 'vmlinuz' (strings need quotes)");
    CHECK(parse_error("a = 1 2") == "t.cfg:1:7: a: expected end of line or ';' after the value, found number 2");
    CHECK(parse_error("a = 'x' b = 2") == "t.cfg:1:9: a: expected end of line or ';' after the value, found word 'b'");
    CHECK(parse_error("a = [] []") == "t.cfg:1:8: a: expected end of line or ';' after the value, found '['");
}

TEST_CASE("xl_cfg: a seed's unbalanced quotes", "[config][xl_cfg]") {
    // /work/shared/seeds: memory      = '<DON'T OVERCOMMIT>?'
    CHECK(parse_error("kernel      = '/boot/x'\nmemory      = '<DON'T OVERCOMMIT>?'\n") ==
          "t.cfg:2:21: memory: expected end of line or ';' after the value, found word 'T'");
}

TEST_CASE("xl_cfg: unterminated, nested and malformed lists", "[config][xl_cfg]") {
    CHECK(parse_error("disk = [ 'a',\n  'b'\n") == "t.cfg:1:8: disk: unterminated list (the '[' has no ']')");
    CHECK(parse_error("x = 1\ndisk = [") == "t.cfg:2:8: disk: unterminated list (the '[' has no ']')");
    CHECK(parse_error("disk = [ 'a',") == "t.cfg:1:8: disk: unterminated list (the '[' has no ']')");
    CHECK(parse_error("disk = [ 'a'\nname = 'x'\n") ==
          "t.cfg:2:1: disk: expected ',' or ']' in the list opened at 1:8, found word 'name'");
    CHECK(parse_error("a = [ 'x', [ 'y' ] ]") == "t.cfg:1:12: a: nested lists are not supported");
    CHECK(parse_error("a = [[1]]") == "t.cfg:1:6: a: nested lists are not supported");
    CHECK(parse_error("a = ['x' 'y']") ==
          "t.cfg:1:10: a: expected ',' or ']' in the list opened at 1:5, found string \"y\"");
    CHECK(parse_error("a = ['x';'y']") == "t.cfg:1:9: a: expected ',' or ']' in the list opened at 1:5, found ';'");
    CHECK(parse_error("a = ['x',,'y']") == "t.cfg:1:10: a: expected a list element or ']', found ','");
    CHECK(parse_error("a = [,]") == "t.cfg:1:6: a: expected a list element or ']', found ','");
    CHECK(parse_error("a = [x]") == "t.cfg:1:6: a: unquoted word 'x' (strings need quotes)");
    CHECK(parse_error("a = [1 @]") == "t.cfg:1:8: a: unexpected character '@'");
    CHECK(parse_error("a = [=]") == "t.cfg:1:6: a: expected a list element or ']', found '='");
}

TEST_CASE("xl_cfg: the seeds' list syntax", "[config][xl_cfg]") {
    // From the 'prueba' xen-tools config: a list over several lines with a trailing comma.
    const XlCfg cfg = parse_ok("disk        = [\n"
                               "                'file:/xen//domains/prueba/disk.img,xvda2,w',\n"
                               "                'file:/xen//domains/prueba/swap.img,xvda1,w',\n"
                               "            ]\n"
                               "vif= ['mac=aa:1:2:3:4', 'bridge=xenbr0, ip=\"10.0.0.1\"']\n"
                               "vif2 =[\"\"]\n");
    const CfgValue& disk = value_of(cfg, "disk");
    REQUIRE(disk.items.size() == 2);
    CHECK(disk.items[1].text == "file:/xen//domains/prueba/swap.img,xvda1,w");
    CHECK(disk.items[1].where.str() == "t.cfg:3:17");
    CHECK(value_of(cfg, "vif").items[1].text == "bridge=xenbr0, ip=\"10.0.0.1\"");
    REQUIRE(value_of(cfg, "vif2").items.size() == 1);
    CHECK(value_of(cfg, "vif2").items[0].text.empty());
}

TEST_CASE("xl_cfg: errors report the first problem and leave the config unchanged", "[config][xl_cfg]") {
    XlCfg cfg = parse_ok("name = 'keep'\n");
    auto r = parse_xl_cfg_into(cfg, "name = 'lost'\nmemory = \nvcpus = @", "more");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "more:2:10: memory: empty value");
    REQUIRE(cfg.settings.size() == 1);
    CHECK(cfg.settings[0].value.text == "keep");

    REQUIRE(parse_xl_cfg_into(cfg, "name = 'new'", "more").ok());
    CHECK(cfg.settings[0].value.text == "new");
    CHECK(cfg.settings[0].where.str() == "more:1:1");
}

TEST_CASE("xl_cfg: bare words (command-line overrides)", "[config][xl_cfg]") {
    CHECK(value_of(parse_ok("extra=console=hvc0 quiet", bare), "extra").text == "console=hvc0 quiet");
    CHECK(value_of(parse_ok("name=my-vm.1  ", bare), "name").text == "my-vm.1");
    CHECK(value_of(parse_ok("name=foo # comment", bare), "name").text == "foo");
    CHECK(value_of(parse_ok("name=\"x y\"", bare), "name").text == "x y");
    CHECK(value_of(parse_ok("kernel=/boot/vmlinuz", bare), "kernel").text == "/boot/vmlinuz");

    const CfgValue memory = value_of(parse_ok("memory=256", bare), "memory");
    CHECK(memory.kind == Kind::number);
    CHECK(memory.number == 256);
    CHECK(value_of(parse_ok("memory = 0x10", bare), "memory").number == 16);
    CHECK(value_of(parse_ok("memory=256M", bare), "memory").kind == Kind::string);

    const CfgValue vif = value_of(parse_ok("vif=[bridge=br0, mac=00:16:3e:00:00:01 ,7]", bare), "vif");
    REQUIRE(vif.items.size() == 3);
    CHECK(vif.items[0].text == "bridge=br0");
    CHECK(vif.items[1].text == "mac=00:16:3e:00:00:01");
    CHECK(vif.items[1].where.column == 18);
    CHECK(vif.items[2].kind == Kind::number);

    // Still refused without the option, as xl does.
    CHECK(parse_error("extra=stay") == "t.cfg:1:7: extra: unquoted word 'stay' (strings need quotes)");
    CHECK(parse_error("extra=", bare) == "t.cfg:1:7: extra: empty value");
}

TEST_CASE("xl_cfg: '+=' and '=' across texts merge as if read as one", "[config][xl_cfg]") {
    XlCfg cfg = parse_ok("e = 'a'\nd = ['1']\nk = 1\n");
    REQUIRE(parse_xl_cfg_into(cfg, "e += 'b'\nnew1 = 'n'\ne += 'c'\nd += ['2']\nnew2 += ['m']\n", "more").ok());
    CHECK(value_of(cfg, "e").text == "abc");
    CHECK(cfg.find("e")->where.str() == "more:3:1");
    CHECK(cfg.find("e")->appended);
    CHECK(value_of(cfg, "e").where.str() == "t.cfg:1:5"); // the value keeps where it began
    REQUIRE(value_of(cfg, "d").items.size() == 2);
    CHECK(value_of(cfg, "d").items[1].where.str() == "more:4:7");
    REQUIRE(cfg.settings.size() == 5);
    CHECK(cfg.settings[3].key == "new1"); // new keys after the old, in order
    CHECK(cfg.settings[4].key == "new2");
    CHECK(cfg.find("new2")->appended);

    REQUIRE(parse_xl_cfg_into(cfg, "e += 'd'\ne = 'x'\ne += 'y'\nk = 2\nk = 3\n", "third").ok());
    CHECK(value_of(cfg, "e").text == "xy");
    CHECK(value_of(cfg, "e").where.str() == "third:2:5");
    CHECK(value_of(cfg, "k").number == 3);
    CHECK_FALSE(cfg.find("k")->appended);
    CHECK(cfg.settings[2].key == "k"); // still in its first place
    CHECK(cfg.settings.size() == 5);

    // '+=' checks see the statements before it in the same text.
    auto r = parse_xl_cfg_into(cfg, "k = 'now a string'\nk += ' more'\nd = 'str'\nd += ['x']\n", "fourth");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "fourth:4:6: d: '+=' cannot add a list to the string set at fourth:3:1");
    CHECK(value_of(cfg, "k").number == 3); // unchanged
    CHECK(value_of(cfg, "d").items.size() == 2);
}

TEST_CASE("xl_cfg: a failed text leaves appended values as they were", "[config][xl_cfg]") {
    XlCfg cfg = parse_ok("d = ['1']\ne = 'a'\n");
    auto r = parse_xl_cfg_into(cfg, "d += ['2']\ne += 'b'\nx = 1\nd += ['3']\nbad = \n", "more");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "more:5:7: bad: empty value");
    CHECK(value_of(cfg, "d").items.size() == 1);
    CHECK(value_of(cfg, "e").text == "a");
    CHECK_FALSE(cfg.find("d")->appended);
    CHECK(cfg.find("x") == nullptr);
    CHECK(cfg.settings.size() == 2);
}

TEST_CASE("xl_cfg: every location in a text shares one copy of its source name", "[config][xl_cfg]") {
    const std::string source(4000, 's'); // a long path must not be copied per token
    auto r = parse_xl_cfg("a = 1\nb = ['x', 'y', 'z']\n", source);
    REQUIRE(r.ok());
    const XlCfg& cfg = *r;
    const std::string* shared = cfg.settings[0].where.source.get();
    REQUIRE(shared != nullptr);
    CHECK(*shared == source);
    CHECK(cfg.settings[0].value.where.source.get() == shared);
    CHECK(cfg.settings[1].where.source.get() == shared);
    for (const CfgValue& item : cfg.settings[1].value.items) CHECK(item.where.source.get() == shared);
    CHECK(hv::config::CfgLocation{}.str() == ":0:0");
}

namespace {

// `n` distinct keys of three characters ("aaa", "aab", ...), one per line.
std::string many_keys(size_t n) {
    static constexpr std::string_view first = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
    static constexpr std::string_view rest = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789";
    std::string text;
    for (size_t i = 0; i < n; ++i) {
        text += first[i / (rest.size() * rest.size()) % first.size()];
        text += rest[i / rest.size() % rest.size()];
        text += rest[i % rest.size()];
        text += "=1\n";
    }
    return text;
}

} // namespace

// A hostile or careless config: reading it is linear in its size, and it
// is refused at the first limit it crosses, with file:line and the limit.
TEST_CASE("xl_cfg: a 1 MiB config of 150,000 keys is refused at the settings limit", "[config][xl_cfg][limits]") {
    const std::string text = many_keys(150000);
    REQUIRE(text.size() <= hv::config::kMaxCfgTextBytes);
    REQUIRE(text.size() > 800000);
    const std::string message = parse_error(text);
    CHECK(message.rfind("t.cfg:1025:1: ", 0) == 0);
    CHECK(message.find("more than 1024 settings (a config holds at most 1024 keys)") != std::string::npos);

    // The same key 150,000 times is one setting: read, last value wins.
    std::string same;
    for (size_t i = 0; i < 150000; ++i) same += "x=" + std::to_string(i % 10) + "\n";
    const XlCfg cfg = parse_ok(same);
    REQUIRE(cfg.settings.size() == 1);
    CHECK(cfg.settings[0].where.line == 150000);
    CHECK(value_of(cfg, "x").number == 9);
}

TEST_CASE("xl_cfg: at most 1024 keys, overrides included", "[config][xl_cfg][limits]") {
    XlCfg cfg = parse_ok(many_keys(1024));
    CHECK(cfg.settings.size() == 1024);
    CHECK(cfg.find(cfg.settings[1023].key) == &cfg.settings[1023]);
    REQUIRE(parse_xl_cfg_into(cfg, "AAA = 2", "override 1", bare).ok()); // an existing key
    auto r = parse_xl_cfg_into(cfg, "AAA = 3\nzzz = 1", "override 2", bare);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "override 2:2:1: zzz: more than 1024 settings (a config holds at most 1024 keys)");
    CHECK(value_of(cfg, "AAA").text == "2"); // the failed override changed nothing
    CHECK(parse_error(many_keys(1025)).rfind("t.cfg:1025:1: ", 0) == 0);
}

TEST_CASE("xl_cfg: at most 4096 items in a list, '+=' included", "[config][xl_cfg][limits]") {
    std::string list = "disk = [";
    for (size_t i = 0; i < 4096; ++i) list += "'d',";
    CHECK(value_of(parse_ok(list + "]\n"), "disk").items.size() == 4096);
    CHECK(parse_error(list + "'one more']\n") ==
          "t.cfg:1:16393: disk: more than 4096 items (a list holds at most 4096)");
    CHECK(parse_error("x = 1\n" + list + "]\ndisk += ['e']\n") ==
          "t.cfg:3:9: disk: '+=': more than 4096 items (a list holds at most 4096)");
    // 16,384 items in all, overrides included; a replaced list no longer counts.
    XlCfg cfg;
    for (size_t i = 0; i < 4; ++i)
        REQUIRE(parse_xl_cfg_into(cfg, "l" + std::to_string(i) + list.substr(4) + "]\n", "f").ok());
    CHECK(cfg.list_items() == 16384);
    auto r = parse_xl_cfg_into(cfg, "x = 'not a list'\nl4 = ['one too many']\n", "override 1");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "override 1:2:6: l4: more than 16384 list items in all (a config holds at most 16384)");
    CHECK(cfg.find("x") == nullptr);
    REQUIRE(parse_xl_cfg_into(cfg, "l0 = ['a', 'b']\nl4 = ['c']\nl4 += ['d']\n", "override 2").ok());
    CHECK(cfg.list_items() == 3 * 4096 + 4);

    // Lists do not nest, so a value is at most one level deep.
    CHECK(parse_error("a = [[[[['deep']]]]]") == "t.cfg:1:6: a: nested lists are not supported");
}

TEST_CASE("xl_cfg: strings of at most 64 KiB, '+=' and bare words included", "[config][xl_cfg][limits]") {
    const std::string full(hv::config::kMaxCfgStringBytes, 'x');
    CHECK(value_of(parse_ok("extra = '" + full + "'\n"), "extra").text.size() == 65536);
    const std::string too_long = "string longer than 65536 bytes (a config string holds at most 64 KiB)";
    CHECK(parse_error("a = 1\nextra = \"" + full + "y\"\n") == "t.cfg:2:9: extra: " + too_long);
    CHECK(parse_error("extra = ['a', '" + full + "yz']\n") == "t.cfg:1:15: extra: " + too_long);
    CHECK(parse_error("extra = '" + full + "'\nextra += 'y'\n") == "t.cfg:2:10: extra: '+=': " + too_long);
    CHECK(value_of(parse_ok("extra=" + full, bare), "extra").text.size() == 65536);
    CHECK(parse_error("extra=" + full + "y", bare) == "t.cfg:1:7: extra: " + too_long);
}

TEST_CASE("xl_cfg: keys of at most 128 characters", "[config][xl_cfg][limits]") {
    const std::string key(128, 'k');
    CHECK(parse_ok(key + " = 1").settings[0].key == key);
    CHECK(parse_error("a = 1\n" + key + "k = 1") ==
          "t.cfg:2:1: key 'kkkkkkkkkkkkkkkkkkkkkkkk...' is longer than 128 characters (the limit)");
    // A long bad word in a message is clipped too.
    CHECK(parse_error("a = " + std::string(100000, '9') + "z") ==
          "t.cfg:1:5: a: bad number '999999999999999999999999...' (decimal, 0x hex or 0 octal, at most 64 bits)");
}

TEST_CASE("xl_cfg: a text of more than 1 MiB is refused", "[config][xl_cfg][limits]") {
    std::string text = "a = '" + std::string(hv::config::kMaxCfgTextBytes, ' ') + "'";
    CHECK(parse_error(text) == "t.cfg: 1048582 bytes: a config text holds at most 1 MiB");
}

TEST_CASE("xl_cfg: a NUL byte inside a string is refused", "[config][xl_cfg]") {
    CHECK(parse_error(std::string("a = 'x\0y'", 9)) == "t.cfg:1:7: a: NUL character in string");
    CHECK(parse_error(std::string("a=x\0y", 5), bare) == "t.cfg:1:3: a: NUL character in string");
}
