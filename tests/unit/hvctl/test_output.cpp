// hvctl's xl layouts (tools/hvctl/output.cpp): network-list and
// block-list, character for character, as the nested tier's scripts and
// users reading xl's columns see them.
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

#include "../../../tools/hvctl/output.hpp"

namespace {

hv::sdk::VifInfo seed_vif(uint32_t devid, std::array<uint8_t, 6> mac, bool connected) {
    hv::sdk::VifInfo v;
    v.devid = devid;
    v.mac = mac;
    v.connected = connected;
    v.tap = "vif11." + std::to_string(devid);
    v.bridge = "xenbr0";
    v.script = "vif-bridge";
    return v;
}

} // namespace

TEST_CASE("hvctl: network-list prints xl's columns, -1 for what virtio has not", "[hvctl][output]") {
    // The seeds' two vifs of domain 11 (xm network-list tra.training1.com).
    const std::vector<hv::sdk::VifInfo> vifs = {seed_vif(0, {0x00, 0x16, 0x3e, 0x6e, 0xdb, 0xf4}, true),
                                                seed_vif(1, {0x00, 0x16, 0x3e, 0x23, 0xf8, 0xec}, false)};
    CHECK(hvctl::network_list(11, vifs) ==
          "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path\n"
          "0   0  00:16:3e:6e:db:f4     0     4     -1    -1/-1          /local/domain/0/backend/vif/11/0\n"
          "1   0  00:16:3e:23:f8:ec     1     1     -1    -1/-1          /local/domain/0/backend/vif/11/1\n");
    CHECK(hvctl::network_list(11, {}) == "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path\n");
}

TEST_CASE("hvctl: network-list -l adds the host side and the counts under each vif", "[hvctl][output]") {
    hv::sdk::VifInfo v = seed_vif(0, {0x00, 0x16, 0x3e, 0x6e, 0xdb, 0xf4}, true);
    v.rate_bytes = 62500;
    v.rate_interval_us = 50000;
    v.rx_frames = 10, v.rx_bytes = 1500, v.tx_frames = 20, v.tx_bytes = 3000, v.tx_dropped = 1;
    hv::sdk::VifInfo routed = seed_vif(1, {0x00, 0x16, 0x3e, 0x23, 0xf8, 0xec}, true);
    routed.bridge.clear();
    routed.script = "vif-route";
    routed.ips = "172.16.30.130 10.0.0.\x1b";
    routed.mtu = 9000;
    const std::string out = hvctl::network_list(11, {v, routed}, true);
    CHECK(out ==
          "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path\n"
          "0   0  00:16:3e:6e:db:f4     0     4     -1    -1/-1          /local/domain/0/backend/vif/11/0\n"
          "    tap vif11.0  bridge xenbr0  script vif-bridge  mtu 1500  rate 62500B/50000us (10Mb/s)  ip -\n"
          "    rx 10 frames 1500 bytes 0 dropped  tx 20 frames 3000 bytes 1 dropped\n"
          "1   0  00:16:3e:23:f8:ec     1     4     -1    -1/-1          /local/domain/0/backend/vif/11/1\n"
          "    tap vif11.1  bridge -  script vif-route  mtu 9000  rate none  ip 172.16.30.130 10.0.0.?\n"
          "    rx 0 frames 0 bytes 0 dropped  tx 0 frames 0 bytes 0 dropped\n");
}

TEST_CASE("hvctl: a vif's rate reads as bytes per interval and Mb/s", "[hvctl][output]") {
    CHECK(hvctl::vif_rate_text(0, 0) == "none");
    CHECK(hvctl::vif_rate_text(0, 50000) == "none");
    CHECK(hvctl::vif_rate_text(62500, 50000) == "62500B/50000us (10Mb/s)"); // rate=10Mb/s
    CHECK(hvctl::vif_rate_text(20000, 20000) == "20000B/20000us (8Mb/s)");  // rate=1MB/s@20ms
}

TEST_CASE("hvctl: block-list prints xl's columns and hv's two", "[hvctl][output]") {
    const std::vector<hv::sdk::BlockInfo> disks = {{51714, "xvda2", "vda", "/xen/domains/prueba/disk.img", 1ull << 30, false, true}};
    CHECK(hvctl::block_list(3, disks) ==
          "Vdev  BE  handle state evt-ch ring-ref BE-path                        Guest  Mode\n"
          "51714 0   3      4     -1     -1       /xen/domains/prueba/disk.img   vda    w\n");
}
