// xl.cfg(5) keys -> DomainConfig: the seeds' real-world configs, every key
// hv honours with its checks, unsupported/unknown keys, overrides, files.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "config/domain_config_loader.hpp"

using hv::Errc;
using hv::config::DomainConfig;
using hv::config::load_domain_config;
using hv::config::parse_domain_config;
using hv::config::Uuid;
using hv::config::uuid_to_string;
using hv::core::ShutdownAction;

namespace {

// The three domain configs in /work/shared/seeds, verbatim.

// 000: a xen-tools PV guest with a multi-line disk list.
const char* const prueba_cfg = R"(kernel      = '/boot/vmlinuz-4.19.0-5-amd64'
extra       = 'elevator=noop'
ramdisk     = '/boot/initrd.img-4.19.0-5-amd64'
vcpus       = '1'
memory      = '128'
root        = '/dev/xvda2 ro'
disk        = [
                'file:/xen//domains/prueba/disk.img,xvda2,w',
                'file:/xen//domains/prueba/swap.img,xvda1,w',
            ]
name        = 'prueba'
#vif        = [ 'ip=172.16.30.130 ,mac=00:16:3E:6C:82:F6' ]

#on_poweroff = 'destroy'
on_reboot   = 'restart'
on_crash    = 'restart'
)";

// 001: an xm-era guest booted by pygrub (no kernel=), lines end in a space.
const char* const server1_cfg = "name = \"ser.server1.com\" \n"
                                "uuid = \"baaaa213-6d28-c55b-4e79-95faedde297f\" \n"
                                "maxmem = 1024 \n"
                                "memory = 1024 \n"
                                "vcpus = 2 \n"
                                "bootloader = \"/usr/bin/pygrub\" \n"
                                "on_poweroff = \"destroy\" \n"
                                "on_reboot = \"restart\" \n"
                                "on_crash = \"restart\" \n"
                                "disk = [ \"tap:aio:/vm/server1,xvda,w\" ] \n"
                                "vif = [ \"mac=00:16:3e:6e:db:f4,bridge=xenbr0\", "
                                "\"mac=00:16:3e:23:f8:ec,bridge=xenbr1\" ]\n";

// 002: an HVM guest (builder='hvm', hvmloader as kernel, legacy maxvcpu).
const char* const hvm_cfg = R"(#!/bin/python
# HVM EXPECIFICS
# NO APPEND (ROOT)
kernel = "/usr/lib/xen-4.1/boot/hvmloader"
builder = 'hvm'
boot = 'cda' #Boot order # boot on floppy (a), hard disk (c), Network (n) or CD-ROM (d)

#BIOS EMULATION
device_model="/usr/lib/xen-4.1/bin/qemu-dm"
acpi=1 #ENABLE SUPPORT FOR POWER MANAGEMENT
apic=1

#ENABLE VNC FOR ACCESS CONFIGURATION
sdl=0
vnc=1
stdvga=0
serial='pty'

#USUAL BUSSINES
vcpus      = '2'
maxvcpu    = 2
memory     = '128'

#
# Disk device(s) .
#
#
disk       = [
    'file:/xen/domains/prueba/disk.img,hda,w',
    'file:/xen/netinst.iso,hdb:cdrom,w',
]

name       = 'my_hvm'

#
# Networking (we have to declare the
# bridge, by default eth0)
# XEN IS QUITE PICKY HERE!!!
vif = ['bridge=eth0']

#
# Behaviour
#
on_poweroff = 'destroy'
on_reboot   = 'restart'
on_crash    = 'restart'
)";

DomainConfig ok(std::string_view text, const std::vector<std::string>& overrides = {}) {
    auto r = parse_domain_config(text, "t.cfg", overrides);
    INFO((r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return std::move(r).value();
}

// A config with the required keys and `more`.
DomainConfig ok_with(const std::string& more) { return ok("name = 'g'\nkernel = '/k'\n" + more); }

hv::Error fails(std::string_view text, const std::vector<std::string>& overrides = {}) {
    auto r = parse_domain_config(text, "t.cfg", overrides);
    REQUIRE_FALSE(r.ok());
    return r.error();
}

// The error for a config with the required keys and `more` (from line 3).
std::string invalid_with(const std::string& more) {
    const hv::Error e = fails("name = 'g'\nkernel = '/k'\n" + more);
    CHECK(e.code == Errc::invalid_argument);
    return e.message;
}

std::string unsupported_list(const DomainConfig& c) {
    std::string out;
    for (const auto& u : c.unsupported) out += u.key + "@" + u.where + ":" + u.why + "\n";
    return out;
}

} // namespace

TEST_CASE("domain_config: seed 'prueba' (xen-tools PV guest)", "[config][domain]") {
    const DomainConfig c = ok(prueba_cfg);
    CHECK(c.name == "prueba");
    CHECK(c.kernel == "/boot/vmlinuz-4.19.0-5-amd64");
    CHECK(c.ramdisk == "/boot/initrd.img-4.19.0-5-amd64");
    CHECK(c.cmdline == "root=/dev/xvda2 ro elevator=noop");
    CHECK(c.memory_mib == 128);
    CHECK(c.maxmem_mib == 0);
    CHECK(c.vcpus == 1);
    CHECK(c.maxvcpus == 0);
    CHECK_FALSE(c.uuid.has_value());
    CHECK(c.actions.on_poweroff == ShutdownAction::destroy); // commented out: xl's default
    CHECK(c.actions.on_reboot == ShutdownAction::restart);
    CHECK(c.actions.on_crash == ShutdownAction::restart);
    CHECK(c.source == "t.cfg");
    CHECK(unsupported_list(c).empty());
    REQUIRE(c.disks.size() == 2);
    CHECK(c.disks[0].target == "/xen//domains/prueba/disk.img");
    CHECK(c.disks[0].vdev == "xvda2");
    CHECK_FALSE(c.disks[0].read_only);
    CHECK(c.disks[1].target == "/xen//domains/prueba/swap.img");
    CHECK(c.disks[1].vdev == "xvda1");
    CHECK(c.vifs.empty()); // commented out
}

TEST_CASE("domain_config: seed 'ser.server1.com' (pygrub, uuid, maxmem, vif list)", "[config][domain]") {
    const hv::Error e = fails(server1_cfg);
    CHECK(e.code == Errc::invalid_argument);
    CHECK(e.message == "t.cfg: kernel: required key is missing (bootloader= is not supported yet)");

    const DomainConfig c = ok(server1_cfg, {"kernel=/boot/vmlinuz"});
    CHECK(c.name == "ser.server1.com");
    REQUIRE(c.uuid.has_value());
    CHECK(uuid_to_string(*c.uuid) == "baaaa213-6d28-c55b-4e79-95faedde297f");
    CHECK((*c.uuid)[0] == 0xba);
    CHECK((*c.uuid)[15] == 0x7f);
    CHECK(c.kernel == "/boot/vmlinuz");
    CHECK(c.memory_mib == 1024);
    CHECK(c.maxmem_mib == 1024);
    CHECK(c.vcpus == 2);
    CHECK(c.cmdline.empty());
    CHECK(c.actions.on_reboot == ShutdownAction::restart);
    CHECK(unsupported_list(c) == "bootloader@t.cfg:6:1:not supported yet\n");
    REQUIRE(c.disks.size() == 1);
    CHECK(c.disks[0].target == "/vm/server1");
    CHECK(c.disks[0].vdev == "xvda");
    CHECK(c.disks[0].legacy_prefix == "tap:aio:");
    REQUIRE(c.vifs.size() == 2);
    CHECK(hv::config::mac_to_string(c.vifs[0].mac.value()) == "00:16:3e:6e:db:f4");
    CHECK(c.vifs[0].bridge == "xenbr0");
    CHECK(hv::config::mac_to_string(c.vifs[1].mac.value()) == "00:16:3e:23:f8:ec");
    CHECK(c.vifs[1].bridge == "xenbr1");
}

TEST_CASE("domain_config: seed HVM guest (builder='hvm', quoted numbers, maxvcpu)", "[config][domain]") {
    const DomainConfig c = ok(hvm_cfg);
    CHECK(c.name == "my_hvm");
    CHECK(c.kernel == "/usr/lib/xen-4.1/boot/hvmloader");
    CHECK(c.vcpus == 2);
    CHECK(c.maxvcpus == 2);
    CHECK(c.memory_mib == 128);
    CHECK(c.actions.on_crash == ShutdownAction::restart);
    CHECK(unsupported_list(c) == "builder@t.cfg:5:1:not supported yet\n"
                                 "boot@t.cfg:6:1:not supported yet\n"
                                 "device_model@t.cfg:9:1:not supported yet\n"
                                 "acpi@t.cfg:10:1:not supported yet\n"
                                 "apic@t.cfg:11:1:not supported yet\n"
                                 "sdl@t.cfg:14:1:not supported yet\n"
                                 "vnc@t.cfg:15:1:not supported yet\n"
                                 "stdvga@t.cfg:16:1:not supported yet\n"
                                 "serial@t.cfg:17:1:not supported yet\n"
                                 "maxvcpu@t.cfg:21:1:legacy spelling of maxvcpus; honoured as maxvcpus\n");
    REQUIRE(c.disks.size() == 2);
    CHECK(c.disks[0].vdev == "hda");
    CHECK(c.disks[0].devtype == hv::config::DiskDevtype::disk);
    CHECK(c.disks[1].target == "/xen/netinst.iso");
    CHECK(c.disks[1].vdev == "hdb");
    CHECK(c.disks[1].devtype == hv::config::DiskDevtype::cdrom);
    CHECK(c.disks[1].read_only);
    REQUIRE(c.vifs.size() == 1);
    CHECK(c.vifs[0].bridge == "eth0");
}

TEST_CASE("domain_config: defaults of a minimal config", "[config][domain]") {
    const DomainConfig c = ok("name = 'a'\nkernel = 'k'\n");
    CHECK(c.name == "a");
    CHECK(c.kernel == "k"); // no folder to resolve against without a file
    CHECK(c.memory_mib == 128);
    CHECK(c.maxmem_mib == 0);
    CHECK(c.vcpus == 1);
    CHECK(c.maxvcpus == 0);
    CHECK(c.cmdline.empty());
    CHECK(c.ramdisk.empty());
    CHECK_FALSE(c.uuid.has_value());
    CHECK(c.actions.on_poweroff == ShutdownAction::destroy);
    CHECK(c.actions.on_reboot == ShutdownAction::restart);
    CHECK(c.actions.on_crash == ShutdownAction::destroy);
    CHECK(c.unsupported.empty());
}

TEST_CASE("domain_config: missing name or kernel", "[config][domain]") {
    hv::Error e = fails("kernel = '/k'\n");
    CHECK(e.code == Errc::invalid_argument);
    CHECK(e.message == "t.cfg: name: required key is missing");
    e = fails("name = 'g'\n");
    CHECK(e.code == Errc::invalid_argument);
    CHECK(e.message == "t.cfg: kernel: required key is missing");
    CHECK(fails("").message == "t.cfg: name: required key is missing");
}

TEST_CASE("domain_config: syntax errors stay parse errors", "[config][domain]") {
    const hv::Error e = fails("name = 'g'\nmemory = \n");
    CHECK(e.code == Errc::parse_error);
    CHECK(e.message == "t.cfg:2:10: memory: empty value");
}

TEST_CASE("domain_config: name", "[config][domain]") {
    CHECK(ok("name = 'a-b_c.D9'\nkernel='k'").name == "a-b_c.D9");
    CHECK(ok("name = 'web-1.example_2'\nkernel='k'").name == "web-1.example_2");
    CHECK(ok("name = 0x4a\nkernel='k'").name == "0x4a"); // xl reads numbers as text
    CHECK(ok("name = '" + std::string(63, 'n') + "'\nkernel='k'").name.size() == 63);
    CHECK(fails("kernel='k'\nname = ''").message == "t.cfg:2:8: name: must not be empty");
    CHECK(fails("name = 'a b'").message == "t.cfg:1:8: name: 'a b' may only use letters, digits, '_', '.' and '-'");
    CHECK(fails("name = 'x/y'").message == "t.cfg:1:8: name: 'x/y' may only use letters, digits, '_', '.' and '-'");
    CHECK(fails("name = '" + std::string(64, 'n') + "'").message == "t.cfg:1:8: name: longer than 63 characters");
    CHECK(fails("name = ['a']").message == "t.cfg:1:8: name: expected a string, found a list");
    CHECK(fails("name = ['a']").code == Errc::invalid_argument);
}

// The one name rule (hv/abi/domain_name.h), as the config reader reports it.
TEST_CASE("domain_config: the domain name rule, with file:line and the key", "[config][domain][bad-input]") {
    const auto name_error = [](const std::string& value) {
        const hv::Error e = fails("kernel = '/k'\nname = " + value + "\n");
        CHECK(e.code == Errc::invalid_argument);
        return e.message;
    };
    CHECK(name_error("'..'") == "t.cfg:2:8: name: '..' must not start with '.' or '-'");
    CHECK(name_error("'a..b'") == "t.cfg:2:8: name: 'a..b' must not contain '..'");
    CHECK(name_error("'.hidden'") == "t.cfg:2:8: name: '.hidden' must not start with '.' or '-'");
    CHECK(name_error("'-x'") == "t.cfg:2:8: name: '-x' must not start with '.' or '-'");
    CHECK(name_error("'a/b'") == "t.cfg:2:8: name: 'a/b' may only use letters, digits, '_', '.' and '-'");
    CHECK(name_error("'../../victim'") ==
          "t.cfg:2:8: name: '../../victim' may only use letters, digits, '_', '.' and '-'");
    // All digits would read as a domid: refused, quoted or not (xl takes them).
    CHECK(name_error("'12345'") == "t.cfg:2:8: name: '12345' must not be all digits (a number is a domid)");
    CHECK(name_error("42") == "t.cfg:2:8: name: '42' must not be all digits (a number is a domid)");
    CHECK(name_error("'" + std::string(64, 'a') + "'") == "t.cfg:2:8: name: longer than 63 characters");
    // A control character is shown escaped, never raw.
    CHECK(name_error("'a\\x01z'") ==
          "t.cfg:2:8: name: 'a\\x01z' may only use letters, digits, '_', '.' and '-'");
    CHECK(name_error("'tab\\there'") ==
          "t.cfg:2:8: name: 'tab\\x09here' may only use letters, digits, '_', '.' and '-'");
    // Overrides are held to the same rule.
    const hv::Error e = fails("name = 'ok'\nkernel = '/k'\n", {"name=007"});
    CHECK(e.message == "override 1:1:6: name: '007' must not be all digits (a number is a domid)");
}

TEST_CASE("domain_config: uuid", "[config][domain]") {
    const DomainConfig c = ok_with("uuid = '0123ABCD-4567-89ab-CDEF-0123456789aB'");
    REQUIRE(c.uuid.has_value());
    CHECK(uuid_to_string(*c.uuid) == "0123abcd-4567-89ab-cdef-0123456789ab");
    const Uuid expected{0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xab,
                        0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
    CHECK(*c.uuid == expected);
    for (const char* bad : {"0123abcd-4567-89ab-cdef-0123456789a", "0123abcd-4567-89ab-cdef-0123456789abc",
                            "0123abcd04567-89ab-cdef-0123456789ab", "0123abcd-4567-89ab-cdef-0123456789ag",
                            "0123abc-d4567-89ab-cdef-0123456789ab", "{123abcd-4567-89ab-cdef-0123456789a}",
                            "0123abcd-4567-89ab-cdef--123456789ab", ""}) {
        INFO(bad);
        CHECK(invalid_with(std::string("uuid = '") + bad + "'") ==
              std::string("t.cfg:3:8: uuid: '") + bad + "' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
    }
}

TEST_CASE("uuid_to_string", "[config][domain]") {
    Uuid u{};
    CHECK(uuid_to_string(u) == "00000000-0000-0000-0000-000000000000");
    for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<uint8_t>(0xf0 + i);
    CHECK(uuid_to_string(u) == "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff");
}

TEST_CASE("domain_config: kernel and ramdisk", "[config][domain]") {
    CHECK(fails("name='g'\nkernel = ''").message == "t.cfg:2:10: kernel: empty path");
    CHECK(fails("name='g'\nkernel = ['a']").message == "t.cfg:2:10: kernel: expected a string, found a list");
    const DomainConfig c = ok_with("ramdisk = ''");
    CHECK(c.ramdisk.empty());
    CHECK(c.unsupported.empty()); // nothing to load
    CHECK(ok_with("ramdisk = '/i'").unsupported.empty()); // loaded as the initrd
    CHECK(ok_with("ramdisk = '/i'").ramdisk == "/i");
}

TEST_CASE("domain_config: root, extra and cmdline as xl builds them", "[config][domain]") {
    CHECK(ok_with("extra = 'console=hvc0'").cmdline == "console=hvc0");
    CHECK(ok_with("root = '/dev/xvda1'").cmdline == "root=/dev/xvda1");
    CHECK(ok_with("extra = 'quiet'\nroot = '/dev/xvda1 ro'").cmdline == "root=/dev/xvda1 ro quiet");
    CHECK(ok_with("cmdline = 'a b'").cmdline == "a b");
    CHECK(ok_with("extra = 'x'\nextra += ' y'").cmdline == "x y");

    const DomainConfig c = ok_with("root = '/dev/r'\ncmdline = 'console=hvc0'\nextra = 'quiet'");
    CHECK(c.cmdline == "console=hvc0");
    CHECK(unsupported_list(c) == "root@t.cfg:3:1:ignored: cmdline= is set (as xl)\n"
                                 "extra@t.cfg:5:1:ignored: cmdline= is set (as xl)\n");
    CHECK(invalid_with("extra = ['a']") == "t.cfg:3:9: extra: expected a string, found a list");
}

TEST_CASE("domain_config: memory and maxmem", "[config][domain]") {
    CHECK(ok_with("memory = 512").memory_mib == 512);
    CHECK(ok_with("memory = '512'").memory_mib == 512);
    CHECK(ok_with("memory = 0x100").memory_mib == 256);
    CHECK(ok_with("memory = '0x100'").memory_mib == 256);
    CHECK(ok_with("memory = 1").memory_mib == 1);
    CHECK(ok_with("memory = 17592186044415").memory_mib == 17592186044415u);
    CHECK(invalid_with("memory = 0") == "t.cfg:3:10: memory: 0 is out of range (1..17592186044415)");
    CHECK(invalid_with("memory = 17592186044416") ==
          "t.cfg:3:10: memory: 17592186044416 is out of range (1..17592186044415)");
    CHECK(invalid_with("memory = '128M'") == "t.cfg:3:10: memory: '128M' is not a number");
    CHECK(invalid_with("memory = ''") == "t.cfg:3:10: memory: '' is not a number");
    CHECK(invalid_with("memory = [128]") == "t.cfg:3:10: memory: expected a number, found a list");
    CHECK(invalid_with("memory = '1'\nmemory += '28'") == "t.cfg:4:1: memory: '128' was built with '+=': not a number");
    CHECK(ok_with("memory = '1'\nmemory += '28'\nmemory = '64'").memory_mib == 64);

    const DomainConfig c = ok_with("maxmem = 2048\nmemory = 1024");
    CHECK(c.memory_mib == 1024);
    CHECK(c.maxmem_mib == 2048);
    CHECK(ok_with("maxmem = 128").maxmem_mib == 128); // equal to the default memory
    CHECK(invalid_with("maxmem = 512\nmemory = 1024") == "t.cfg:3:10: maxmem: 512 MiB is less than memory (1024 MiB)");
    CHECK(invalid_with("maxmem = 64") == "t.cfg:3:10: maxmem: 64 MiB is less than memory (128 MiB)");
    CHECK(invalid_with("maxmem = 0") == "t.cfg:3:10: maxmem: 0 is out of range (1..17592186044415)");
}

TEST_CASE("domain_config: vcpus, maxvcpus and the legacy maxvcpu", "[config][domain]") {
    CHECK(ok_with("vcpus = 128").vcpus == 128);
    CHECK(ok_with("vcpus = '4'").vcpus == 4);
    CHECK(invalid_with("vcpus = 0") == "t.cfg:3:9: vcpus: 0 is out of range (1..128)");
    CHECK(invalid_with("vcpus = 129") == "t.cfg:3:9: vcpus: 129 is out of range (1..128)");
    CHECK(invalid_with("vcpus = 'two'") == "t.cfg:3:9: vcpus: 'two' is not a number");

    DomainConfig c = ok_with("maxvcpus = 8\nvcpus = 2");
    CHECK(c.vcpus == 2);
    CHECK(c.maxvcpus == 8);
    CHECK(c.unsupported.empty());
    CHECK(invalid_with("vcpus = 4\nmaxvcpus = 2") == "t.cfg:4:12: maxvcpus: 2 is less than vcpus (4)");
    CHECK(invalid_with("maxvcpus = 129") == "t.cfg:3:12: maxvcpus: 129 is out of range (1..128)");

    c = ok_with("maxvcpu = 4");
    CHECK(c.maxvcpus == 4);
    CHECK(unsupported_list(c) == "maxvcpu@t.cfg:3:1:legacy spelling of maxvcpus; honoured as maxvcpus\n");
    c = ok_with("maxvcpu = 4\nmaxvcpus = 6");
    CHECK(c.maxvcpus == 6);
    CHECK(unsupported_list(c) == "maxvcpu@t.cfg:3:1:legacy spelling of maxvcpus; ignored, maxvcpus is set\n");
    CHECK(invalid_with("vcpus = 3\nmaxvcpu = 2") == "t.cfg:4:11: maxvcpu: 2 is less than vcpus (3)");
}

TEST_CASE("domain_config: on_poweroff, on_reboot, on_crash", "[config][domain]") {
    DomainConfig c = ok_with("on_poweroff = 'preserve'\non_reboot = 'destroy'\non_crash = 'rename-restart'");
    CHECK(c.actions.on_poweroff == ShutdownAction::preserve);
    CHECK(c.actions.on_reboot == ShutdownAction::destroy);
    CHECK(c.actions.on_crash == ShutdownAction::rename_restart);
    CHECK(c.unsupported.empty());

    c = ok_with("on_crash = 'coredump-destroy'\non_reboot = \"soft-reset\"");
    CHECK(c.actions.on_crash == ShutdownAction::coredump_destroy); // kept: the monitor refuses it
    CHECK(c.actions.on_reboot == ShutdownAction::soft_reset);
    CHECK(unsupported_list(c) == "on_crash@t.cfg:3:1:action 'coredump-destroy' not supported yet\n"
                                 "on_reboot@t.cfg:4:1:action 'soft-reset' not supported yet\n");

    const std::string actions =
        " (destroy, restart, preserve, rename-restart, coredump-destroy, coredump-restart, soft-reset)";
    CHECK(invalid_with("on_crash = 'explode'") == "t.cfg:3:12: on_crash: unknown action 'explode'" + actions);
    CHECK(invalid_with("on_poweroff = 'Destroy'") == "t.cfg:3:15: on_poweroff: unknown action 'Destroy'" + actions);
    CHECK(invalid_with("on_reboot = 1") == "t.cfg:3:13: on_reboot: unknown action '1'" + actions);
    CHECK(invalid_with("on_reboot = ['restart']") == "t.cfg:3:13: on_reboot: expected a string, found a list");
}

TEST_CASE("domain_config: recognised and unknown keys", "[config][domain]") {
    const DomainConfig c =
        ok_with("type = 'pvh'\nfrobnicate = 1\npool = 'Pool-0'\nviridian = ['defaults']\nvif = 'bridge=br0'\n"
                "on_watchdog = 'destroy'\ntsc_mode = 'native'\nirqs = [7, 8]\nacpi = '1'\n");
    CHECK(unsupported_list(c) == "type@t.cfg:3:1:not supported yet\n"
                                 "frobnicate@t.cfg:4:1:unknown key\n"
                                 "pool@t.cfg:5:1:not supported yet\n"
                                 "viridian@t.cfg:6:1:not supported yet\n"
                                 "on_watchdog@t.cfg:8:1:not supported yet\n"
                                 "tsc_mode@t.cfg:9:1:not supported yet\n"
                                 "irqs@t.cfg:10:1:not supported yet\n"
                                 "acpi@t.cfg:11:1:not supported yet\n");
}

TEST_CASE("domain_config: recognised keys are still type-checked", "[config][domain]") {
    CHECK(invalid_with("disk = 5") == "t.cfg:3:8: disk: expected a string or a list of strings");
    CHECK(invalid_with("disk = ['a',\n  5]") == "t.cfg:4:3: disk: list elements must be strings");
    CHECK(invalid_with("vif = [0x1]") == "t.cfg:3:8: vif: list elements must be strings");
    CHECK(invalid_with("builder = ['hvm']") == "t.cfg:3:11: builder: expected a string, found a list");
    CHECK(invalid_with("acpi = 'yes'") == "t.cfg:3:8: acpi: 'yes' is not a number");
    CHECK(invalid_with("vnc = [1]") == "t.cfg:3:7: vnc: expected a number, found a list");
}

TEST_CASE("domain_config: disk and vif specs are parsed", "[config][domain]") {
    DomainConfig c = ok_with("disk = 'phy:/dev/vg/g,xvda,w'\nvif = 'bridge=br0'\n"); // one spec, not a list
    REQUIRE(c.disks.size() == 1);
    CHECK(c.disks[0].target == "/dev/vg/g");
    REQUIRE(c.vifs.size() == 1);
    CHECK(c.vifs[0].bridge == "br0");
    CHECK(unsupported_list(c).empty());

    c = ok_with("disk = []\nvif = ['', 'mac=00:16:3e:00:00:01']\nvif += ['bridge=b']\n");
    CHECK(c.disks.empty());
    REQUIRE(c.vifs.size() == 3);
    CHECK_FALSE(c.vifs[0].mac.has_value());
    CHECK(c.vifs[2].bridge == "b");
    CHECK(unsupported_list(c).empty());

    // A bad spec names its own position, the key, the spec and the item.
    CHECK(invalid_with("disk = ['file:/a,xvda,w', 'file:/b,xvdb,x']") ==
          "t.cfg:3:27: disk: 'file:/b,xvdb,x': 'x': unknown access (ro, r, rw, w)");
    CHECK(invalid_with("disk = [\n  '/a,,xvda',\n  'a',\n]") == "t.cfg:5:3: disk: 'a': no vdev given");
    CHECK(invalid_with("vif = 'mac=01:00:00:00:00:00'") ==
          "t.cfg:3:7: vif: 'mac=01:00:00:00:00:00': 'mac=01:00:00:00:00:00': a multicast MAC address (the first "
          "byte is odd)");
    CHECK(invalid_with("vif = [ 'ip=172.16.30.130 ,mac=00:16:3E:6C:82:F6', 'ip=172.16.30.300' ]") ==
          "t.cfg:3:52: vif: 'ip=172.16.30.300': 'ip=172.16.30.300': '172.16.30.300' is not an IPv4 address "
          "(dotted quad: 10.0.0.2)");

    const std::string base = "name = 'g'\nkernel = '/k'\n";
    c = ok(base, {"vif=[bridge=br0,mac=00:16:3e:00:00:02]"}); // a bare list splits at ','
    REQUIRE(c.vifs.size() == 2);
    CHECK(c.vifs[1].mac.has_value());
    const hv::Error e = fails(base, {"vif=[bridge=br0,mac=x]"});
    CHECK(e.code == Errc::invalid_argument);
    CHECK(e.message == "override 1:1:17: vif: 'mac=x': 'mac=x': not a MAC address (six hex pairs: 00:16:3e:xx:xx:xx)");
}

TEST_CASE("domain_config: command-line overrides", "[config][domain]") {
    const std::string base = "name = 'g'\nkernel = '/k'\nmemory = 128\nextra = 'a'\n";
    DomainConfig c = ok(base, {"memory=256", "name=\"other\"", "extra=stay"});
    CHECK(c.memory_mib == 256);
    CHECK(c.name == "other");
    CHECK(c.cmdline == "stay");
    CHECK(c.source == "t.cfg");

    CHECK(ok(base, {"extra=console=hvc0 quiet"}).cmdline == "console=hvc0 quiet");
    CHECK(ok(base, {"extra+=' debug'"}).cmdline == "a debug");
    CHECK(ok(base, {"memory=1", "memory=2"}).memory_mib == 2); // later overrides win
    CHECK(ok(base, {"vcpus = 2; maxvcpus = 4"}).maxvcpus == 4);
    CHECK(unsupported_list(ok(base, {"vif=[bridge=br0]"})).empty());

    // Errors name the override, and its text when it did not parse.
    hv::Error e = fails(base, {"memory=1", "memory=abc"});
    CHECK(e.code == Errc::invalid_argument);
    CHECK(e.message == "override 2:1:8: memory: 'abc' is not a number");
    e = fails(base, {"memory"});
    CHECK(e.code == Errc::parse_error);
    CHECK(e.message == "override 1:1:7: memory: expected '=' after the key, found end of input (in 'memory')");
    e = fails(base, {"vcpus=2", " "});
    CHECK(e.code == Errc::parse_error);
    CHECK(e.message == "override 2: empty, expected KEY=VALUE");
    CHECK(fails(base, {"name=bad name"}).message ==
          "override 1:1:6: name: 'bad name' may only use letters, digits, '_', '.' and '-'");
    CHECK(fails(base, {"extra=\"open"}).message ==
          "override 1:1:7: extra: unterminated string (no closing \") (in 'extra=\"open')");
}

namespace {

// A fresh folder under the system's temp directory, removed at scope exit.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() /
               ("hv-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        const auto file = path / name;
        std::ofstream(file) << text;
        return file.string();
    }
    static inline int counter = 0;
};

} // namespace

TEST_CASE("domain_config: load_domain_config reads a file and resolves paths next to it", "[config][domain]") {
    const TempDir dir;
    const std::string path = dir.write("guest.cfg", "name = 'g'\nkernel = 'vmlinuz'\nramdisk = 'boot/initrd'\n");
    auto r = load_domain_config(path);
    INFO((r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    CHECK(r->source == path);
    CHECK(r->kernel == (dir.path / "vmlinuz").string());
    CHECK(r->ramdisk == (dir.path / "boot/initrd").string());
    CHECK(r->unsupported.empty());

    // Absolute paths stay; an override's relative path is the caller's.
    r = load_domain_config(dir.write("abs.cfg", "name = 'g'\nkernel = '/boot/vmlinuz'\n"));
    REQUIRE(r.ok());
    CHECK(r->kernel == "/boot/vmlinuz");
    r = load_domain_config(path, {"kernel=bzImage"});
    REQUIRE(r.ok());
    CHECK(r->kernel == "bzImage");
    CHECK(r->ramdisk == (dir.path / "boot/initrd").string());
}

TEST_CASE("domain_config: load_domain_config errors name the file", "[config][domain]") {
    const TempDir dir;
    const std::string missing = (dir.path / "nope.cfg").string();
    auto r = load_domain_config(missing);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_found);
    CHECK(r.error().message == missing + ": cannot open: No such file or directory");

    r = load_domain_config(dir.path.string()); // a folder opens but does not read
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::io_error);
    CHECK(r.error().message == dir.path.string() + ": cannot read: Is a directory");

    const std::string bad = dir.write("bad.cfg", "name = 'g'\nmemory = 12 * 2\n");
    r = load_domain_config(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::parse_error);
    CHECK(r.error().message == bad + ":2:13: memory: unexpected character '*'");

    const std::string big = dir.write("big.cfg", std::string((1 << 20) + 1, '#'));
    r = load_domain_config(big);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::io_error);
    CHECK(r.error().message == big + ": larger than 1 MiB, not a domain config");
}
