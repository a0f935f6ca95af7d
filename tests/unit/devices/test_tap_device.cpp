// TapDevice and the interface-name rule, in a network namespace of the
// test's own (a forked child unshares its network and mount namespaces and
// mounts its own sysfs, so /sys/class/net is that namespace's): the TAP
// joins its bridge with its MTU and is up; an existing name, a missing
// bridge and a bad name are clear errors that leave no interface; the TAP
// is gone when its owner closes it, as when a domain process dies.
#include <catch2/catch.hpp>

#include <linux/if.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/interface_name.hpp"
#include "devices/net/tap_device.hpp"
#include "netns.hpp"

namespace fs = std::filesystem;
using hvtest::in_netns;
using hvtest::make_bridge;
using hv::config::check_interface_name;
using hv::dev::TapDevice;

namespace {

bool exists(const std::string& ifname) { return fs::exists("/sys/class/net/" + ifname); }

std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string s;
    std::getline(in, s);
    return s;
}

} // namespace

TEST_CASE("interface names: one rule for vifname, bridge and the TAP", "[net][tap]") {
    CHECK(check_interface_name("xenbr0", "bridge"));
    CHECK(check_interface_name("vif12.0", "vif"));
    CHECK(check_interface_name("abcdefghijklmno", "vif")); // 15: the most Linux takes
    CHECK_FALSE(check_interface_name("abcdefghijklmnop", "vif"));
    CHECK_FALSE(check_interface_name("", "bridge"));
    CHECK_FALSE(check_interface_name(".", "bridge"));
    CHECK_FALSE(check_interface_name("..", "bridge"));
    CHECK_FALSE(check_interface_name("-x", "bridge"));
    CHECK_FALSE(check_interface_name("a/b", "bridge"));
    CHECK_FALSE(check_interface_name("a:b", "bridge"));
    CHECK_FALSE(check_interface_name("a b", "bridge"));
    auto bad = check_interface_name(std::string("br\n0", 4), "bridge");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find('\n') == std::string::npos); // quoted, not copied raw into logs
    CHECK(bad.error().message.find("bridge") != std::string::npos);
}

TEST_CASE("TapDevice: joins its bridge with its MTU, refuses clashes, and goes with its owner", "[net][tap]") {
    const int rc = in_netns([] {
        EXPECT(make_bridge("xenbr0"));
        {
            auto tap = TapDevice::create({"vif7.0", "xenbr0", 1400});
            if (!tap) std::fprintf(stderr, "%s\n", tap.error().message.c_str());
            EXPECT(tap);
            EXPECT((*tap)->fd() >= 0);
            EXPECT(exists("vif7.0"));
            EXPECT(fs::read_symlink("/sys/class/net/vif7.0/master").filename() == "xenbr0");
            EXPECT(read_line("/sys/class/net/vif7.0/mtu") == "1400");
            EXPECT((std::stoul(read_line("/sys/class/net/vif7.0/flags"), nullptr, 16) & IFF_UP) != 0);
            EXPECT((*tap)->set_offloads(0));

            auto again = TapDevice::create({"vif7.0", "xenbr0", {}});
            EXPECT(!again && again.error().code == hv::Errc::exists);
            auto clash = TapDevice::create({"xenbr0", "", {}}); // not someone else's interface either
            EXPECT(!clash);
        }
        EXPECT(!exists("vif7.0")); // closed: gone, and off the bridge
        EXPECT(fs::is_empty("/sys/class/net/xenbr0/brif"));

        auto nobridge = TapDevice::create({"vif7.1", "xenbr9", {}});
        EXPECT(!nobridge && nobridge.error().code == hv::Errc::not_found);
        EXPECT(nobridge.error().message.find("xenbr9") != std::string::npos);
        EXPECT(!exists("vif7.1")); // nothing left behind

        auto badmtu = TapDevice::create({"vif7.2", "", 20});
        EXPECT(!badmtu && badmtu.error().message.find("mtu") != std::string::npos);
        EXPECT(!exists("vif7.2"));

        auto badname = TapDevice::create({"vif/7", "", {}});
        EXPECT(!badname && badname.error().code == hv::Errc::invalid_argument);
        return 0;
    });
    CHECK(rc == 0);
}
