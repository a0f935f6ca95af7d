// xl-network-configuration(5) specs: the seeds' specs, every key, the rate
// arithmetic of xlu_vif_parse_rate, and each way a spec is refused.
#include <catch2/catch.hpp>

#include <string>

#include "config/vif_spec.hpp"

using hv::Errc;
using hv::config::Ipv4Address;
using hv::config::MacAddress;
using hv::config::parse_vif_rate;
using hv::config::parse_vif_spec;
using hv::config::VifSpec;
using hv::config::VifType;

namespace {

VifSpec ok(const std::string& spec) {
    auto r = parse_vif_spec(spec);
    INFO(spec << " -> " << (r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return std::move(r).value();
}

std::string bad(const std::string& spec) {
    auto r = parse_vif_spec(spec);
    INFO(spec);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    return r.error().message;
}

// "bytes/usecs" for a rate, or its problem.
std::string rate(const std::string& text) {
    uint64_t bytes = 0;
    uint32_t usecs = 0;
    std::string problem;
    if (!parse_vif_rate(text, bytes, usecs, problem)) return problem;
    return std::to_string(bytes) + "/" + std::to_string(usecs);
}

const std::string keys = " (mac, bridge, ip, type, model, vifname, script, backend, gatewaydev, netdev, rate, "
                         "devid, mtu)";

} // namespace

TEST_CASE("vif_spec: the seeds' specs", "[config][vif]") {
    VifSpec v = ok("ip=172.16.30.130 ,mac=00:16:3E:6C:82:F6");
    REQUIRE(v.ips.size() == 1);
    CHECK(v.ips[0] == Ipv4Address{172, 16, 30, 130});
    REQUIRE(v.mac.has_value());
    CHECK(*v.mac == MacAddress{0x00, 0x16, 0x3e, 0x6c, 0x82, 0xf6});
    CHECK(v.bridge.empty());

    v = ok("mac=00:16:3e:6e:db:f4,bridge=xenbr0");
    CHECK(hv::config::mac_to_string(*v.mac) == "00:16:3e:6e:db:f4");
    CHECK(v.bridge == "xenbr0");
    CHECK(ok("bridge=eth0").bridge == "eth0");
    CHECK(ok("ip=10.0.0.2").ips.at(0) == Ipv4Address{10, 0, 0, 2});
}

TEST_CASE("vif_spec: defaults of an empty spec", "[config][vif]") {
    for (const char* spec : {"", " ", ",", " , ,"}) {
        const VifSpec v = ok(spec);
        CHECK_FALSE(v.mac.has_value());
        CHECK(v.bridge.empty());
        CHECK(v.ips.empty());
        CHECK(v.type == VifType::unset);
        CHECK(v.rate.empty());
        CHECK(v.rate_bytes_per_interval == 0);
        CHECK(v.rate_interval_usecs == 0);
        CHECK_FALSE(v.devid.has_value());
        CHECK_FALSE(v.mtu.has_value());
    }
}

TEST_CASE("vif_spec: every key", "[config][vif]") {
    const VifSpec v = ok("mac=00:16:3E:74:3d:76, model=rtl8139, bridge=xenbr0, type=ioemu, vifname=vif-g, "
                         "script=vif-route, backend=netdom, gatewaydev=eth1, ip=10.0.0.2  192.168.1.255, "
                         "rate=10Mb/s@20ms, devid=3, mtu=9000,");
    CHECK(hv::config::mac_to_string(*v.mac) == "00:16:3e:74:3d:76");
    CHECK(v.model == "rtl8139");
    CHECK(v.bridge == "xenbr0");
    CHECK(v.type == VifType::ioemu);
    CHECK(v.vifname == "vif-g");
    CHECK(v.script == "vif-route");
    CHECK(v.backend == "netdom");
    CHECK(v.gatewaydev == "eth1");
    REQUIRE(v.ips.size() == 2);
    CHECK(hv::config::ipv4_to_string(v.ips[0]) == "10.0.0.2");
    CHECK(hv::config::ipv4_to_string(v.ips[1]) == "192.168.1.255");
    CHECK(v.rate == "10Mb/s@20ms");
    CHECK(v.rate_bytes_per_interval == 25000);
    CHECK(v.rate_interval_usecs == 20000);
    CHECK(v.devid == 3u);
    CHECK(v.mtu == 9000u);

    CHECK(ok("type=vif").type == VifType::vif);
    CHECK(ok("netdev=eth0").gatewaydev == "eth0"); // the old name
    CHECK(ok("bridge=").bridge.empty());
    CHECK(ok("ip=").ips.empty());
    CHECK(ok(" mac = 02:00:00:00:00:01 ").mac.has_value());
    CHECK(ok("ip=0.0.0.0").ips.at(0) == Ipv4Address{0, 0, 0, 0});
    CHECK(ok("devid=0,mtu=2147483647").mtu == 2147483647u);
    CHECK(std::string(hv::config::vif_type_name(VifType::unset)).empty());
    CHECK(std::string(hv::config::vif_type_name(VifType::vif)) == "vif");
}

TEST_CASE("vif_spec: rates as xlu_vif_parse_rate computes them", "[config][vif]") {
    CHECK(rate("10Mb/s@20ms") == "25000/20000");
    CHECK(rate("100KB/s") == "5000/50000"); // the interval defaults to 50ms
    CHECK(rate("1GB/s@1s") == "1000000000/1000000");
    CHECK(rate("5b/s@100us") == "0/100");
    CHECK(rate("1MB/s@2") == "2000000/2000000"); // no unit: seconds
    CHECK(rate("1MB/s@500u") == "500/500");
    CHECK(rate("1MB/s@5m") == "5000/5000");
    CHECK(rate("4294967295B/s") == "214748364/50000");
    CHECK(rate("1Mb/s@4294s") == "536750000/4294000000");

    const std::string rate_form = " (a number, then B/s or b/s, optionally K, M or G before it: 10Mb/s)";
    const std::string interval_form = " (a number, then s, ms or us: 20ms)";
    CHECK(rate("") == "no rate before '@'");
    CHECK(rate("@20ms") == "no rate before '@'");
    CHECK(rate("10Mb") == "bad rate '10Mb'" + rate_form);
    CHECK(rate("Mb/s") == "bad rate 'Mb/s'" + rate_form);
    CHECK(rate("10mb/s") == "bad rate '10mb/s'" + rate_form);
    CHECK(rate("10MB/s ") == "bad rate '10MB/s '" + rate_form);
    CHECK(rate("0Mb/s") == "the rate must be more than 0");
    CHECK(rate("010Mb/s") == "the rate has a leading zero (xl would read it as octal)");
    CHECK(rate("4294967296B/s") == "the rate is larger than 4294967295");
    CHECK(rate("10Mb/s@") == "bad interval ''" + interval_form);
    CHECK(rate("10Mb/s@20ns") == "bad interval '20ns'" + interval_form);
    CHECK(rate("10Mb/s@ms") == "bad interval 'ms'" + interval_form);
    CHECK(rate("10Mb/s@0ms") == "the interval must be more than 0");
    CHECK(rate("10Mb/s@5000s") == "the interval is longer than 4294967295us");
    CHECK(rate("4294967295GB/s@4294s") == "rate times interval does not fit 64 bits");
}

TEST_CASE("vif_spec: every refusal, with its message", "[config][vif]") {
    const std::string not_mac = "not a MAC address (six hex pairs: 00:16:3e:xx:xx:xx)";
    CHECK(bad("bridge") == "'bridge': 'bridge': not KEY=VALUE");
    CHECK(bad("bridge=br0, xenbr1") == "'bridge=br0, xenbr1': 'xenbr1': not KEY=VALUE");
    CHECK(bad("mac=aa:1:2:3:4") == "'mac=aa:1:2:3:4': 'mac=aa:1:2:3:4': " + not_mac);
    CHECK(bad("mac=00:16:3e:6e:db:f4:00") == "'mac=00:16:3e:6e:db:f4:00': 'mac=00:16:3e:6e:db:f4:00': " + not_mac);
    CHECK(bad("mac=00-16-3e-6e-db-f4") == "'mac=00-16-3e-6e-db-f4': 'mac=00-16-3e-6e-db-f4': " + not_mac);
    CHECK(bad("mac=00:16:3e:6e:db:fg") == "'mac=00:16:3e:6e:db:fg': 'mac=00:16:3e:6e:db:fg': " + not_mac);
    CHECK(bad("mac=") == "'mac=': 'mac=': " + not_mac);
    CHECK(bad("mac=01:16:3e:00:00:01") ==
          "'mac=01:16:3e:00:00:01': 'mac=01:16:3e:00:00:01': a multicast MAC address (the first byte is odd)");

    const auto not_ip = [](const std::string& spec, const std::string& one) {
        return "'" + spec + "': '" + spec + "': '" + one + "' is not an IPv4 address (dotted quad: 10.0.0.2)";
    };
    for (const char* ip : {"10.0.0.256", "10.0.0", "10.0.0.1.2", "010.0.0.1", "a.b.c.d", "10..0.1", "10.0.0.",
                           "10.0.0.1/24", "::1", "1000.0.0.1"}) {
        INFO(ip);
        CHECK(bad(std::string("ip=") + ip) == not_ip(std::string("ip=") + ip, ip));
    }
    CHECK(bad("ip=10.0.0.1 10.0.0") == not_ip("ip=10.0.0.1 10.0.0", "10.0.0"));

    CHECK(bad("type=tap") == "'type=tap': 'type=tap': unknown type (vif, ioemu)");
    CHECK(bad("rate=10Mb") ==
          "'rate=10Mb': 'rate=10Mb': bad rate '10Mb' (a number, then B/s or b/s, optionally K, M or G before it: "
          "10Mb/s)");
    CHECK(bad("rate=") == "'rate=': 'rate=': no rate before '@'");
    for (const char* n : {"devid=x", "mtu=-1", "mtu=2147483648", "devid=", "mtu=1.5"}) {
        INFO(n);
        CHECK(bad(n) == "'" + std::string(n) + "': '" + n + "': not a decimal number up to 2147483647");
    }

    // Interface names follow config::check_interface_name (empty: unset).
    CHECK(bad("bridge=br/0") == "'bridge=br/0': 'bridge=br/0': bridge \"br/0\": an interface name has only letters, digits, '_', '-' and '.'");
    CHECK(bad("vifname=abcdefghijklmnop") ==
          "'vifname=abcdefghijklmnop': 'vifname=abcdefghijklmnop': vifname \"abcdefghijklmnop\": 16 bytes; an interface name has at most 15");
    CHECK(bad("gatewaydev=..").find("an interface name starts with") != std::string::npos);
    CHECK(bad("bridge=a,bridge=b") == "'bridge=a,bridge=b': 'bridge=b': bridge given twice");
    CHECK(bad("netdev=a, gatewaydev=b") == "'netdev=a, gatewaydev=b': 'gatewaydev=b': gatewaydev given twice");
    CHECK(bad("mac=00:16:3e:00:00:01,mac=00:16:3e:00:00:01") ==
          "'mac=00:16:3e:00:00:01,mac=00:16:3e:00:00:01': 'mac=00:16:3e:00:00:01': mac given twice");

    CHECK(bad("colo_sock_mirror_id=1") ==
          "'colo_sock_mirror_id=1': 'colo_sock_mirror_id=1': COLO network replication is not supported");
    CHECK(bad("forwarddev=eth0") == "'forwarddev=eth0': 'forwarddev=eth0': COLO network replication is not supported");
    CHECK(bad("accel=x") == "'accel=x': 'accel=x': unknown key" + keys);
    CHECK(bad("bridge=br0,foo=1") == "'bridge=br0,foo=1': 'foo=1': unknown key" + keys);
    CHECK(bad("=x") == "'=x': '=x': unknown key" + keys);
}
