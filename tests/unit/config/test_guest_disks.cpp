// How a config's disks are named: Xen vdevs (parse_vdev), the names a Linux
// guest gives hv's virtio-blk disks (guest_disk_name), and the root=
// rewrite that joins the two (map_root), starting from the seeds' prueba.cfg
// (disk = ['file:...,xvda2,w', 'file:...,xvda1,w'], root = "/dev/xvda2 ro",
// extra = "elevator=noop").
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/disk_spec.hpp"
#include "config/guest_disks.hpp"

using hv::config::DiskSpec;
using hv::config::guest_disk_name;
using hv::config::map_root;
using hv::config::parse_vdev;
using hv::config::RootMapping;

namespace {

// Disks as the xl.cfg reader hands them over: each spec parsed.
std::vector<DiskSpec> disks(const std::vector<std::string>& specs) {
    std::vector<DiskSpec> out;
    for (const std::string& s : specs) {
        auto r = hv::config::parse_disk_spec(s);
        INFO(s);
        REQUIRE(r.ok());
        out.push_back(std::move(r).value());
    }
    return out;
}

// prueba.cfg's disks: the root file system first, swap second.
std::vector<DiskSpec> prueba() {
    return disks({"file:/srv/xen/prueba/disk.img,xvda2,w", "file:/srv/xen/prueba/swap.img,xvda1,w"});
}

// A cmdline map_root must leave exactly as it is, saying nothing.
void unchanged(const std::string& cmdline, const std::vector<DiskSpec>& d) {
    INFO(cmdline);
    const RootMapping m = map_root(cmdline, d);
    CHECK(m.cmdline == cmdline);
    CHECK(m.notice.empty());
}

} // namespace

TEST_CASE("guest disks: parse_vdev takes Xen's vdev spellings", "[guest_disks]") {
    struct Ok {
        const char* vdev;
        const char* disk;
        unsigned partition;
    };
    const Ok ok[] = {
        {"xvda", "xvda", 0},  {"xvda2", "xvda", 2}, {"xvdaa", "xvdaa", 0}, {"xvdzz9", "xvdzz", 9},
        {"hda", "hda", 0},    {"hdb1", "hdb", 1},   {"sda", "sda", 0},     {"sdb15", "sdb", 15},
        {"vda", "vda", 0},    {"xvda255", "xvda", 255}, {"sdaa10", "sdaa", 10},
    };
    for (const Ok& o : ok) {
        INFO(o.vdev);
        const auto v = parse_vdev(o.vdev);
        REQUIRE(v.has_value());
        CHECK(v->disk == o.disk);
        CHECK(v->partition == o.partition);
    }
}

TEST_CASE("guest disks: parse_vdev refuses what is not a vdev", "[guest_disks]") {
    for (const char* bad : {"xvd", "xvda0", "hdaa", "xvdabc", "floppy", "xvda256", "xvda1x", "", "hd", "vd",
                            "xvda01", "xvda1000", "XVDA", "xvdA", "xvd1", "sda-1", "xvda 1", "nvme0n1"}) {
        INFO("'" << bad << "'");
        CHECK_FALSE(parse_vdev(bad).has_value());
    }
}

TEST_CASE("guest disks: guest_disk_name follows Linux's virtio_blk naming", "[guest_disks]") {
    CHECK(guest_disk_name(0) == "vda");
    CHECK(guest_disk_name(1) == "vdb");
    CHECK(guest_disk_name(25) == "vdz");
    CHECK(guest_disk_name(26) == "vdaa");
    CHECK(guest_disk_name(27) == "vdab");
    CHECK(guest_disk_name(51) == "vdaz");
    CHECK(guest_disk_name(52) == "vdba");
    // Every name a domain can have parses back as a vdev of its own.
    for (size_t i = 0; i < hv::config::kMaxDisks; ++i) CHECK(parse_vdev(guest_disk_name(i)).has_value());
}

TEST_CASE("guest disks: prueba.cfg's root=/dev/xvda2 becomes /dev/vda", "[guest_disks]") {
    const RootMapping m = map_root("root=/dev/xvda2 ro elevator=noop", prueba());
    CHECK(m.cmdline == "root=/dev/vda ro elevator=noop");
    // The notice says what happened: the name written, the disk, the new name.
    CHECK(m.notice.find("/dev/vda") != std::string::npos);
    CHECK(m.notice.find("xvda2") != std::string::npos);
}

TEST_CASE("guest disks: the second disk's vdev becomes /dev/vdb", "[guest_disks]") {
    const RootMapping m = map_root("root=/dev/xvda1 ro elevator=noop", prueba());
    CHECK(m.cmdline == "root=/dev/vdb ro elevator=noop");
    CHECK(m.notice.find("/dev/vdb") != std::string::npos);
    // Anywhere in the line, and at its end.
    CHECK(map_root("console=hvc0 root=/dev/xvda1 ro", prueba()).cmdline == "console=hvc0 root=/dev/vdb ro");
    CHECK(map_root("console=hvc0 root=/dev/xvda2", prueba()).cmdline == "console=hvc0 root=/dev/vda");
}

TEST_CASE("guest disks: a partition of a whole-disk vdev keeps its number", "[guest_disks]") {
    const auto whole = disks({"file:/img/a.img,xvda,w"});
    RootMapping m = map_root("root=/dev/xvda1 ro", whole);
    CHECK(m.cmdline == "root=/dev/vda1 ro");
    CHECK(m.notice.find("/dev/vda1") != std::string::npos);
    // The whole disk itself, and a partition of the second disk.
    CHECK(map_root("root=/dev/xvda", whole).cmdline == "root=/dev/vda");
    const auto two = disks({"file:/img/a.img,hda,w", "file:/img/b.img,sdb,w"});
    CHECK(map_root("root=/dev/sdb15 ro", two).cmdline == "root=/dev/vdb15 ro");
    CHECK(map_root("root=/dev/hda3", two).cmdline == "root=/dev/vda3");
}

TEST_CASE("guest disks: a root= naming no configured disk is left alone", "[guest_disks]") {
    const auto d = prueba();
    unchanged("root=/dev/xvdc ro", d);          // a Xen name, but no such disk
    unchanged("root=/dev/xvdb2 ro", d);
    unchanged("root=/dev/sda1 ro", d);          // a SCSI name, no sda disk
    unchanged("root=/dev/xvda ro", d);          // the whole disk of partition vdevs
    unchanged("root=/dev/xvda3 ro", d);
    unchanged("root=LABEL=x ro", d);            // not a device path
    unchanged("root=UUID=0b8e-11 ro", d);
    unchanged("root=/dev/mapper/x ro", d);      // not a vdev
    unchanged("root=/dev/nfs nfsroot=10.0.0.1:/srv", d);
    unchanged("ro elevator=noop", d);           // no root= at all
    unchanged("", d);
    unchanged("root=/dev/xvda2 ro", {});        // no disks
    // Already the guest's name: nothing to say.
    unchanged("root=/dev/vda ro", disks({"file:/img/a.img,vda,w"}));
}

TEST_CASE("guest disks: only a whole root= word counts", "[guest_disks]") {
    const auto d = prueba();
    unchanged("noroot=/dev/xvda2 ro", d);
    unchanged("console=hvc0 xroot=/dev/xvda1", d);
    // A root= after a non-root one is still mapped.
    CHECK(map_root("noroot=/dev/xvda1 root=/dev/xvda2", d).cmdline == "noroot=/dev/xvda1 root=/dev/vda");
}

TEST_CASE("guest disks: the last root= word is the one mapped, as Linux uses the last", "[guest_disks]") {
    const auto d = prueba();
    const RootMapping m = map_root("root=/dev/xvda1 console=hvc0 root=/dev/xvda2 ro", d);
    CHECK(m.cmdline == "root=/dev/xvda1 console=hvc0 root=/dev/vda ro");
    CHECK(m.notice.find("/dev/vda") != std::string::npos);
    CHECK(map_root("root=/dev/xvda2 root=/dev/xvda1", d).cmdline == "root=/dev/xvda2 root=/dev/vdb");
    // The last one names nothing configured: nothing is mapped.
    unchanged("root=/dev/xvda2 root=/dev/xvdc", d);
    unchanged("root=/dev/xvda2 root=/dev/mapper/vg-root", d);
}

// Regression: only the last root= word counts, as in Linux; a later
// root= that is not a /dev path leaves an earlier root=/dev/xvda2 alone.
TEST_CASE("guest disks: a later root=LABEL= wins over an earlier root=/dev/xvda2", "[guest_disks]") {
    unchanged("root=/dev/xvda2 ro root=LABEL=x", prueba());
}

// Regression: Linux splits its command line at any white space
// (lib/cmdline.c, isspace), and so does map_root.
TEST_CASE("guest disks: a root= word after a tab is mapped", "[guest_disks]") {
    CHECK(map_root("ro\troot=/dev/xvda2", prueba()).cmdline == "ro\troot=/dev/vda");
}

TEST_CASE("guest disks: Xen's device numbers for vdevs (xen-vbd-interface)", "[guest_disks]") {
    const auto devid = [](const char* v) {
        const auto p = hv::config::parse_vdev(v);
        REQUIRE(p);
        return hv::config::xen_devid(*p);
    };
    CHECK(devid("xvda") == 51712u);  // 202 << 8
    CHECK(devid("xvda2") == 51714u);
    CHECK(devid("xvdb") == 51728u);
    CHECK(devid("xvdp15") == (202u << 8 | 15u << 4 | 15u));
    CHECK(devid("xvdq") == (1u << 28 | 16u << 8));
    CHECK(devid("xvdaa1") == (1u << 28 | 26u << 8 | 1u));
    CHECK(devid("hda") == 768u);     // 3 << 8
    CHECK(devid("hdb1") == 833u);    // 3 << 8 | 64 | 1
    CHECK(devid("hdc") == 5632u);    // 22 << 8
    CHECK(devid("hdt") == (91u << 8 | 64u));
    CHECK(devid("sda1") == 2049u);   // 8 << 8 | 1
    CHECK(devid("sdb") == 2064u);
    CHECK_FALSE(hv::config::parse_vdev("hdu"));
}
