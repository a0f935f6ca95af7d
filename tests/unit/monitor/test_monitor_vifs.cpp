// The monitor's vifs on a fake platform, in a network namespace of the
// test's own: create makes each TAP with its name and bridge, a missing
// bridge fails the create naming it and leaves nothing, and the TAPs go
// with the domain (destroy) and with a create that fails after them.
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "../devices/netns.hpp"
#include "config/domain_config.hpp"
#include "config/guest_vifs.hpp"
#include "fake_platform.hpp"
#include "monitor/monitor.hpp"
#include "pvh_image.hpp"

namespace fs = std::filesystem;
using hvtest::in_netns;

namespace {

bool exists(const std::string& ifname) { return fs::exists("/sys/class/net/" + ifname); }

size_t vifs() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator("/sys/class/net"))
        if (e.path().filename().string().rfind("vif", 0) == 0) ++n;
    return n;
}

hv::config::VifSpec vif(const std::string& text) {
    auto v = hv::config::parse_vif_spec(text);
    if (!v) throw std::runtime_error(v.error().message);
    return *v;
}

} // namespace

TEST_CASE("monitor: vifs are made at create, named and bridged, and go with the domain", "[monitor][fake][net]") {
    const int rc = in_netns([] {
        EXPECT(hvtest::make_bridge("xenbr0"));
        auto platform = std::make_shared<hvtest::FakeHypervisor>([](hvtest::FakeVcpu&) -> std::optional<hv::platform::VcpuExit> {
            return std::nullopt;
        });
        hv::Monitor::Options o;
        o.platform = platform;
        o.log_level = "off";
        auto m = hv::Monitor::open(o);
        EXPECT(m);
        hvbench::TempFile kernel{hvbench::pvh_elf(hvbench::first_byte_code())};
        hv::config::DomainConfig c;
        c.name = "net";
        c.kernel = kernel.path();
        c.memory_mib = 16;

        // A missing bridge: named, and no TAP is left.
        c.vifs = {vif(""), vif("bridge=nosuchbr")};
        auto bad = (*m)->create(c);
        EXPECT(!bad);
        EXPECT(bad.error().message.find("nosuchbr") != std::string::npos);
        EXPECT(bad.error().message.find("vif 2") != std::string::npos);
        EXPECT(vifs() == 0);

        // Two vifs: vif<domid>.<devid> on xenbr0 (the default) and one
        // named by vifname=. Whatever the domain's fate on this fake
        // platform, no TAP outlives it.
        c.vifs = {vif(""), vif("vifname=guest0,devid=3")};
        auto id = (*m)->create(c);
        if (id) {
            const std::string first = "vif" + std::to_string(*id) + ".0";
            EXPECT(exists(first));
            EXPECT(exists("guest0"));
            EXPECT(fs::read_symlink("/sys/class/net/" + first + "/master").filename() == "xenbr0");
            EXPECT((*m)->destroy(*id));
        } else {
            std::fprintf(stderr, "create on the fake platform: %s\n", id.error().message.c_str());
            EXPECT(id.error().message.find("vifs need a stock kernel") != std::string::npos);
        }
        EXPECT(vifs() == 0);
        return 0;
    });
    CHECK(rc == 0);
}

TEST_CASE("vif facts: devid, default mac, TAP name, bridge, script", "[config][net]") {
    hv::config::Uuid u1{}, u2{};
    u2[0] = 1;
    const auto plain = vif("");
    const auto m1 = hv::config::vif_mac(plain, u1, 0);
    CHECK(m1[0] == 0x00);
    CHECK(m1[1] == 0x16);
    CHECK(m1[2] == 0x3e);
    CHECK(hv::config::vif_mac(plain, u1, 0) == m1);      // stable for one domain
    CHECK(hv::config::vif_mac(plain, u2, 0) != m1);      // differs between domains
    CHECK(hv::config::vif_mac(plain, u1, 1) != m1);      // and between vifs
    CHECK(hv::config::mac_to_string(hv::config::vif_mac(vif("mac=00:16:3e:aa:bb:cc"), u1, 0)) == "00:16:3e:aa:bb:cc");
    CHECK(hv::config::vif_devid(plain, 2) == 2);
    CHECK(hv::config::vif_devid(vif("devid=7"), 2) == 7);
    CHECK(hv::config::vif_tap_name(plain, 12, 0) == "vif12.0");
    CHECK(hv::config::vif_tap_name(vif("vifname=web0"), 12, 0) == "web0");
    CHECK(hv::config::vif_bridge(plain) == "xenbr0");
    CHECK(hv::config::vif_bridge(vif("bridge=br1")) == "br1");
    CHECK(hv::config::vif_script(vif("script=/etc/xen/scripts/vif-route,ip=10.0.0.2")) == hv::config::VifScript::route);
    CHECK(hv::config::vif_bridge(vif("script=vif-route,ip=10.0.0.2")).empty());
    CHECK(hv::config::vif_gatewaydev(vif("script=vif-route,ip=10.0.0.2")) == "eth0");
}
