// config/spec_writer.hpp: a written disk or vif spec reads back as the
// spec it was written from (every field but a disk's legacy prefix as
// written), over the spellings the readers' own tests use; a quoted
// string reads back as itself.
#include <catch2/catch.hpp>

#include <string>

#include "config/disk_spec.hpp"
#include "config/spec_writer.hpp"
#include "config/vif_spec.hpp"
#include "config/xl_cfg_parser.hpp"

using hv::config::DiskSpec;
using hv::config::VifSpec;

namespace {

// Every field a written spec keeps, in one line.
std::string show(const DiskSpec& d) {
    const auto opt = [](const std::optional<bool>& b) { return b ? (*b ? "1" : "0") : "-"; };
    return "target=" + d.target + " format=" + hv::config::disk_format_name(d.format) + " vdev=" + d.vdev +
           (d.read_only ? " ro" : " rw") + " " + hv::config::disk_devtype_name(d.devtype) +
           " backendtype=" + hv::config::disk_backend_type_name(d.backendtype) + " backend=" + d.backend +
           " script=" + d.script + " spec=" + hv::config::disk_specification_name(d.specification) +
           " dio=" + (d.direct_io_safe ? "1" : "0") + " discard=" + opt(d.discard) + " trusted=" + opt(d.trusted) +
           " grant=" + opt(d.grant_usage) + " rate=" + d.rate + "/" + std::to_string(d.rate_bytes_per_interval) + "/" +
           std::to_string(d.rate_interval_usecs) + " iops=" + d.iops + "/" + std::to_string(d.iops_per_interval) + "/" +
           std::to_string(d.iops_interval_usecs);
}

std::string show(const VifSpec& v) {
    std::string ips;
    for (const auto& ip : v.ips) ips += hv::config::ipv4_to_string(ip) + ";";
    return "mac=" + (v.mac ? hv::config::mac_to_string(*v.mac) : "-") + " bridge=" + v.bridge + " ip=" + ips +
           " type=" + hv::config::vif_type_name(v.type) + " model=" + v.model + " vifname=" + v.vifname +
           " script=" + v.script + " backend=" + v.backend + " gatewaydev=" + v.gatewaydev + " rate=" + v.rate + "/" +
           std::to_string(v.rate_bytes_per_interval) + "/" + std::to_string(v.rate_interval_usecs) +
           " devid=" + (v.devid ? std::to_string(*v.devid) : "-") + " mtu=" + (v.mtu ? std::to_string(*v.mtu) : "-");
}

} // namespace

TEST_CASE("spec writer: a written disk spec reads back as the spec", "[config][disk][writer]") {
    const char* specs[] = {
        "file:/xen//domains/prueba/disk.img,xvda2,w",
        "/dev/vg/guest-volume,raw,hda,rw",
        "/dev/vg/guest-volume,,hda",
        "tap:aio:/vm/server1,xvda,w",
        "qcow2:/images/a.qcow2,xvdb,r",
        "iscsi:iqn.2001-05.com.example:disk,xvdc",
        "file:/xen/netinst.iso,hdb:cdrom,r",
        ",,hdc:cdrom",
        "format=qcow2, vdev=xvdd, access=ro, target=/images/with,comma:colon.img",
        "vdev=sda1, devtype=disk, backendtype=qdisk, backend=driver-dom, script=block-x, specification=virtio, "
        "direct-io-safe, no-discard, untrusted, grant_usage=0, target=/dev/sdq",
        "vdev=xvde, discard, trusted, grant_usage=1, rate=40Mb/s, iops=2000@20ms, target=/images/e.img",
        "vdev=xvdf, rate=100MB/s@20ms, target=/images/ends-with-comma,,",
        "vdev = xvdg , target = /images/blank name.img",
    };
    for (const char* spec : specs) {
        auto first = hv::config::parse_disk_spec(spec);
        INFO(spec);
        REQUIRE(first.ok());
        const std::string written = hv::config::disk_spec_text(*first);
        INFO("written: " << written);
        auto again = hv::config::parse_disk_spec(written);
        REQUIRE(again.ok());
        CHECK(show(*again) == show(*first));
        CHECK(hv::config::disk_spec_text(*again) == written); // a fixed point
    }
    // target= comes last: it takes the rest of the spec.
    auto d = hv::config::parse_disk_spec("/a.img,raw,xvda,w");
    REQUIRE(d.ok());
    CHECK(hv::config::disk_spec_text(*d) == "format=raw, vdev=xvda, access=rw, target=/a.img");
    d->target = "/a,b,";
    CHECK(hv::config::parse_disk_spec(hv::config::disk_spec_text(*d))->target == "/a,b,");
}

TEST_CASE("spec writer: a written vif spec reads back as the spec", "[config][vif][writer]") {
    const char* specs[] = {
        "",
        "mac=00:16:3e:6e:db:f4, bridge=xenbr0",
        "ip=172.16.30.130 ,mac=00:16:3E:6C:82:F6",
        "ip=10.0.0.2 10.0.0.3, script=vif-route, gatewaydev=eth1",
        "type=ioemu, model=e1000, vifname=web0, backend=netdom, netdev=eth2",
        "rate=10Mb/s@20ms, devid=4, mtu=9000, script=/etc/xen/scripts/vif-bridge",
        "type=vif, devid=0",
    };
    for (const char* spec : specs) {
        auto first = hv::config::parse_vif_spec(spec);
        INFO(spec);
        REQUIRE(first.ok());
        const std::string written = hv::config::vif_spec_text(*first);
        INFO("written: " << written);
        auto again = hv::config::parse_vif_spec(written);
        REQUIRE(again.ok());
        CHECK(show(*again) == show(*first));
    }
    CHECK(hv::config::vif_spec_text(VifSpec{}).empty()); // vif = [''] : every default
    auto v = hv::config::parse_vif_spec("bridge=xenbr0, devid=2");
    REQUIRE(v.ok());
    CHECK(hv::config::vif_spec_text(*v) == "bridge=xenbr0, devid=2");
}

TEST_CASE("spec writer: a quoted string reads back as itself, on one line", "[config][writer]") {
    const std::string values[] = {"", "plain", "it's", "a\\b", "\"double\"", "tab\there", "new\nline",
                                  std::string("\x01\x1f\x7f", 3), "ünïcode", "[not, a list]"};
    for (const std::string& s : values) {
        const std::string quoted = hv::config::cfg_quote(s);
        INFO(quoted);
        CHECK(quoted.find('\n') == std::string::npos);
        auto cfg = hv::config::parse_xl_cfg("k = " + quoted + "\n", "test");
        REQUIRE(cfg.ok());
        REQUIRE(cfg->find("k") != nullptr);
        CHECK(cfg->find("k")->value.text == s);
    }
    CHECK(hv::config::cfg_quote("it's") == "'it\\'s'");
}
