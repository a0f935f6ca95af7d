// check_creatable: what hv cannot create is refused before anything is
// created, by the monitor and by `hvctl create -n` alike, naming
// file:line:column and the key.
#include <catch2/catch.hpp>

#include <string>

#include "config/domain_config.hpp"
#include "config/domain_config_loader.hpp"

using hv::Errc;
using hv::config::check_creatable;
using hv::config::DomainConfig;
using hv::config::parse_domain_config;

namespace {

const std::string base = "name = 'g'\nkernel = '/k'\n"; // then the settings under test, from line 3

DomainConfig parsed(const std::string& more, const std::vector<std::string>& overrides = {}) {
    auto r = parse_domain_config(base + more, "file.cfg", overrides);
    INFO((r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return std::move(r).value();
}

// check_creatable's refusal of a config that reads fine.
hv::Error refusal(const std::string& more, const std::vector<std::string>& overrides = {}) {
    auto r = check_creatable(parsed(more, overrides));
    REQUIRE_FALSE(r.ok());
    return r.error();
}

// A config built in code, as the SDK's typed DomainSpec makes one.
DomainConfig built() {
    DomainConfig c;
    c.name = "coded";
    c.kernel = "/k";
    return c;
}

std::string built_refusal(const DomainConfig& c) {
    auto r = check_creatable(c);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

} // namespace

TEST_CASE("check_creatable: a config hv can create passes", "[config][creatable]") {
    CHECK(check_creatable(parsed("")).ok());
    CHECK(check_creatable(parsed("memory = 4095\nvcpus = 128\nmaxvcpus = 128\nfrobnicate = 1\n")).ok());
    CHECK(check_creatable(parsed("memory = 2\nextra = '" + std::string(4095, 'x') + "'\n")).ok());
    CHECK(check_creatable(built()).ok());
}

TEST_CASE("check_creatable: memory too large or too small names file:line and the key", "[config][creatable]") {
    hv::Error e = refusal("vcpus = 1\nmemory = 8192\n");
    CHECK(e.code == Errc::invalid_argument);
    CHECK(e.message == "file.cfg:4:10: memory: 8192 MiB is more than hv gives a guest (at most 4095 MiB: guest RAM "
                       "lies below 4 GiB)");
    CHECK(refusal("memory = 4096\n").message.rfind("file.cfg:3:10: memory: 4096 MiB is more than", 0) == 0);
    CHECK(refusal("memory = 0x10000000000\n").message.rfind("file.cfg:3:10: memory: 1099511627776 MiB", 0) == 0);
    CHECK(refusal("memory = 1\n").message ==
          "file.cfg:3:10: memory: 1 MiB is too little: a PVH guest needs at least 2 MiB");
    // An override's value is named by the override.
    const std::string by_override = refusal("memory = 64\n", {"memory=5000"}).message;
    CHECK(by_override.rfind("override 1:1:8: memory: 5000 MiB is more than", 0) == 0);
}

TEST_CASE("check_creatable: a kernel command line too long names the key it came from", "[config][creatable]") {
    const std::string long_text(4096, 'x');
    hv::Error e = refusal("extra = '" + long_text + "'\n");
    CHECK(e.code == Errc::invalid_argument);
    CHECK(e.message == "file.cfg:3:9: extra: the kernel command line is 4096 bytes; at most 4095 fit");
    // root= and extra= together: "root=R E" is what must fit.
    CHECK(refusal("root = '/dev/xvda1'\nextra = '" + std::string(4080, 'x') + "'\n").message ==
          "file.cfg:4:9: extra: the kernel command line is 4096 bytes; at most 4095 fit");
    CHECK(refusal("root = '" + std::string(4091, 'r') + "'\n").message ==
          "file.cfg:3:8: root: the kernel command line is 4096 bytes; at most 4095 fit");
    CHECK(refusal("cmdline = '" + long_text + "'\n").message ==
          "file.cfg:3:11: cmdline: the kernel command line is 4096 bytes; at most 4095 fit");
    // Refused as "ignored" before the length counts (as the monitor always did).
    CHECK(refusal("extra = 'quiet'\ncmdline = '" + long_text + "'\n").message ==
          "file.cfg:3:1: extra: ignored: cmdline= is set (as xl)");
    CHECK(refusal("x = 1\n", {"extra=" + long_text}).message ==
          "override 1:1:7: extra: the kernel command line is 4096 bytes; at most 4095 fit");
}

TEST_CASE("check_creatable: maxvcpus above vcpus is accepted (the vCPUs past vcpus start offline)",
          "[config][creatable]") {
    CHECK(check_creatable(parsed("vcpus = 2\nmaxvcpus = 4\n")).ok());
    CHECK(check_creatable(parsed("maxvcpus = 128\n")).ok());
    CHECK(check_creatable(parsed("maxvcpus = 2\n", {"vcpus=1"})).ok());
    CHECK(check_creatable(parsed("vcpus = 4\nmaxvcpus = 4\n")).ok());
    // Still no fewer than vcpus (the reader refuses that too), and no more
    // than kMaxVcpus.
    DomainConfig c = parsed("vcpus = 2\nmaxvcpus = 4\n");
    c.maxvcpus = 1;
    CHECK(built_refusal(c) == "file.cfg:4:12: maxvcpus: 1 is less than vcpus (2)");
    c = built();
    c.vcpus = 2;
    c.maxvcpus = 129;
    CHECK(built_refusal(c) == "maxvcpus: 129 is out of range (1..128)");
    c.maxvcpus = 128;
    CHECK(check_creatable(c).ok());
}

TEST_CASE("check_creatable: names follow the one rule", "[config][creatable]") {
    // Read from a file, a bad name never gets this far (the reader refuses
    // it with its place); a name changed or built in code is held to it too.
    DomainConfig c = parsed("");
    c.name = "12345";
    CHECK(built_refusal(c) == "file.cfg:1:8: name: '12345' must not be all digits (a number is a domid)");
    c.name = "../x";
    CHECK(built_refusal(c) == "file.cfg:1:8: name: '../x' may only use letters, digits, '_', '.' and '-'");
    c = built();
    c.name = "12345";
    CHECK(built_refusal(c) == "name: '12345' must not be all digits (a number is a domid)");
    c.name = "";
    CHECK(built_refusal(c) == "name: required key is missing");
    c.source = "spec";
    CHECK(built_refusal(c) == "spec: name: required key is missing");
    c = built();
    c.kernel.clear();
    CHECK(built_refusal(c) == "kernel: required key is missing");
}

TEST_CASE("check_creatable: unsupported keys and actions are refused with their place", "[config][creatable]") {
    hv::Error e = refusal("frobnicate = 1\npci = ['01:00.0']\n");
    CHECK(e.code == Errc::not_supported);
    CHECK(e.message == "file.cfg:4:1: pci: not supported yet");
    CHECK(refusal("on_crash = 'coredump-destroy'\n").message ==
          "file.cfg:3:1: on_crash: action 'coredump-destroy' not supported yet");

    DomainConfig c = built();
    c.actions.on_reboot = hv::core::ShutdownAction::soft_reset;
    CHECK(built_refusal(c) == "on_reboot: action 'soft-reset' is not supported yet");
}

TEST_CASE("check_creatable: disks hv cannot present are refused, naming the disk", "[config][creatable]") {
    CHECK(refusal("disk = ['file:/a.img,xvda2,w', 'file:/b.img,xvda2,w']\n").message ==
          "file.cfg:3:8: disk: disk 2 ('xvda2'): the same vdev as disk 1");
    hv::Error e = refusal("disk = ['vhd:/a.vhd,xvda,w']\n");
    CHECK(e.code == Errc::not_supported);
    CHECK(e.message == "file.cfg:3:8: disk: disk 1 ('xvda'): format 'vhd' is not supported yet (raw and qcow2 only)");
    CHECK(refusal("disk = ['/a.iso,raw,hdc:cdrom,r']\n").message ==
          "file.cfg:3:8: disk: disk 1 ('hdc'): cdrom drives are not supported yet");
    CHECK(refusal("disk = ['/a.img,raw,xvdb,w,backend=driverdom']\n").message ==
          "file.cfg:3:8: disk: disk 1 ('xvdb'): backend domains are not supported (the disk is served by hv itself)");
    CHECK(refusal("disk = ['/a.img,raw,floppy,w']\n").message ==
          "file.cfg:3:8: disk: disk 1 ('floppy'): not a vdev hv knows (xvdX, hdX, sdX or vdX, then a partition "
          "number 1..255 if any)");
    std::string many = "disk = [";
    for (int i = 0; i < 17; ++i) many += "'/d" + std::to_string(i) + ",raw,xvd" + std::string(1, static_cast<char>('a' + i)) + ",w',";
    many += "]\n";
    CHECK(refusal(many).message == "file.cfg:3:8: disk: 17 disks: at most 16");
}

TEST_CASE("check_creatable: values built in code are range-checked too", "[config][creatable]") {
    DomainConfig c = built();
    c.vcpus = 0;
    CHECK(built_refusal(c) == "vcpus: 0 is out of range (1..128)");
    c.vcpus = 129;
    CHECK(built_refusal(c) == "vcpus: 129 is out of range (1..128)");
    c = built();
    c.memory_mib = 1 << 20;
    CHECK(built_refusal(c).rfind("memory: 1048576 MiB is more than hv gives a guest", 0) == 0);
    c = built();
    c.maxmem_mib = 64;
    CHECK(built_refusal(c) == "maxmem: 64 MiB is less than memory (128 MiB)");
    c = built();
    c.vcpus = 4;
    c.maxvcpus = 2;
    CHECK(built_refusal(c) == "maxvcpus: 2 is less than vcpus (4)");
    c = built();
    c.cmdline = std::string("a\0b", 3);
    CHECK(built_refusal(c) == "cmdline: the kernel command line contains a NUL character");
}

TEST_CASE("check_creatable: vifs hv cannot make are refused, naming the vif", "[config][create][net]") {
    CHECK(check_creatable(parsed("vif = [ '' ]\n")).ok()); // one default interface
    CHECK(check_creatable(parsed("vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr1,rate=10Mb/s,mtu=9000', 'model=e1000' ]\n")).ok());
    CHECK(check_creatable(parsed("vif = [ 'script=vif-route,ip=10.0.0.2 10.0.0.3,gatewaydev=eth1' ]\n")).ok());
    const auto says = [](const hv::Error& e, const std::string& what) {
        INFO(e.message);
        CHECK(e.message.find(what) != std::string::npos);
        CHECK(e.message.find("file.cfg:3:") == 0);
    };
    says(refusal("vif = [ 'mac=00:16:3e:00:00:01', 'mac=00:16:3e:00:00:01' ]\n"), "vif 2 (devid 1): the same mac (00:16:3e:00:00:01) as vif 1");
    says(refusal("vif = [ 'devid=1', '' ]\n"), "vif 2 (devid 1): the same devid as vif 1");
    says(refusal("vif = [ 'vifname=a', 'vifname=a' ]\n"), "the same vifname ('a') as vif 1");
    says(refusal("vif = [ 'script=vif-nat' ]\n"), "vif-nat is not supported");
    says(refusal("vif = [ 'script=/etc/xen/scripts/my-script' ]\n"), "script '/etc/xen/scripts/my-script' is not supported");
    says(refusal("vif = [ 'script=vif-route' ]\n"), "vif-route needs ip=");
    says(refusal("vif = [ 'backend=driverdom' ]\n"), "backend domains are not supported");
    says(refusal("vif = [ 'rate=1b/s@1us' ]\n"), "less than one byte per interval");
    says(refusal("vif = [ 'rate=200Gb/s' ]\n"), "over 100Gb/s");
    says(refusal("vif = [ 'mtu=60' ]\n"), "mtu 60 is outside 68..65535");
    says(refusal("vif = [ '', '', '', '', '', '', '', '', '' ]\n"), "9 vifs: at most 8");
    std::string ips;
    for (int i = 1; i <= 17; ++i) ips += (i == 1 ? "" : " ") + std::string("10.0.0.") + std::to_string(i);
    says(refusal("vif = [ 'ip=" + ips + "' ]\n"), "17 ip= addresses: at most 16");
    CHECK(refusal("vif = [ 'script=vif-nat' ]\n").code == Errc::not_supported);
}
