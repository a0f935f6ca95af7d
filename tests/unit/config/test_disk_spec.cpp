// xl-disk-configuration(5) specs: the seeds' specs, the man page's
// equivalent spellings, every key and flag, and each way a spec is refused.
#include <catch2/catch.hpp>

#include <string>

#include "config/disk_spec.hpp"

using hv::Errc;
using hv::config::DiskBackendType;
using hv::config::DiskDevtype;
using hv::config::DiskFormat;
using hv::config::DiskSpec;
using hv::config::DiskSpecification;
using hv::config::parse_disk_spec;

namespace {

DiskSpec ok(const std::string& spec) {
    auto r = parse_disk_spec(spec);
    INFO(spec << " -> " << (r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return std::move(r).value();
}

std::string bad(const std::string& spec) {
    auto r = parse_disk_spec(spec);
    INFO(spec);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    return r.error().message;
}

// Every field, in one line, so equivalent spellings compare at once.
std::string show(const DiskSpec& d) {
    const auto opt = [](const std::optional<bool>& b) { return b ? (*b ? "1" : "0") : "-"; };
    return "target=" + d.target + " format=" + hv::config::disk_format_name(d.format) + " vdev=" + d.vdev +
           (d.read_only ? " ro" : " rw") + " " + hv::config::disk_devtype_name(d.devtype) +
           " backendtype=" + hv::config::disk_backend_type_name(d.backendtype) + " backend=" + d.backend +
           " script=" + d.script + " spec=" + hv::config::disk_specification_name(d.specification) +
           " dio=" + (d.direct_io_safe ? "1" : "0") + " discard=" + opt(d.discard) + " trusted=" + opt(d.trusted) +
           " grant=" + opt(d.grant_usage) + " prefix=" + d.legacy_prefix;
}

const std::string formats = " (raw, qcow, qcow2, vhd, qed, empty)";
const std::string prefixes =
    " (file, phy, tap, tap2, tapdisk, aio, ioemu, raw, qcow, qcow2, vhd, iscsi, nbd, enbd, drbd)";
const std::string keys =
    " (target, format, vdev, access, devtype, backend, backendtype, script, specification, grant_usage, rate, iops)";

} // namespace

TEST_CASE("disk_spec: the seeds' legacy specs", "[config][disk]") {
    DiskSpec d = ok("file:/xen//domains/prueba/disk.img,xvda2,w");
    CHECK(d.target == "/xen//domains/prueba/disk.img");
    CHECK(d.format == DiskFormat::raw);
    CHECK(d.vdev == "xvda2");
    CHECK_FALSE(d.read_only);
    CHECK(d.devtype == DiskDevtype::disk);
    CHECK(d.backendtype == DiskBackendType::unset); // a prefix does not choose the backend
    CHECK(d.legacy_prefix == "file:");

    d = ok("tap:aio:/vm/server1,xvda,w");
    CHECK(d.target == "/vm/server1");
    CHECK(d.vdev == "xvda");
    CHECK(d.legacy_prefix == "tap:aio:");
    CHECK(show(d) == "target=/vm/server1 format=raw vdev=xvda rw disk backendtype= backend= script= spec= dio=0 "
                     "discard=- trusted=- grant=- prefix=tap:aio:");

    d = ok("file:/xen/netinst.iso,hdb:cdrom,w");
    CHECK(d.target == "/xen/netinst.iso");
    CHECK(d.vdev == "hdb");
    CHECK(d.devtype == DiskDevtype::cdrom);
    CHECK(d.read_only); // a cdrom is read-only whatever the access says
    CHECK(d.format == DiskFormat::raw);
}

TEST_CASE("disk_spec: the man page's equivalent spellings", "[config][disk]") {
    const std::string volume = "target=/dev/vg/guest-volume format=raw vdev=hda rw disk backendtype= backend= "
                               "script= spec= dio=0 discard=- trusted=- grant=- prefix=";
    CHECK(show(ok("/dev/vg/guest-volume,,hda")) == volume);
    CHECK(show(ok("/dev/vg/guest-volume,raw,hda,rw")) == volume);
    CHECK(show(ok("format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume")) == volume);
    CHECK(show(ok("raw:/dev/vg/guest-volume,hda,w")) == volume + "raw:");

    const std::string iso = "target=/root/image.iso format=raw vdev=hdc ro cdrom backendtype= backend= script= "
                            "spec= dio=0 discard=- trusted=- grant=- prefix=";
    CHECK(show(ok("/root/image.iso,,hdc,cdrom")) == iso);
    CHECK(show(ok("/root/image.iso,,hdc,,cdrom")) == iso);
    CHECK(show(ok("/root/image.iso,raw,hdc,devtype=cdrom")) == iso);
    CHECK(show(ok("format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso")) == iso);
    CHECK(show(ok("raw:/root/image.iso,hdc:cdrom,ro")) == iso + "raw:");
}

TEST_CASE("disk_spec: positional slots and empty values", "[config][disk]") {
    DiskSpec d = ok("/img.qcow2,qcow2,xvdb,ro");
    CHECK(d.format == DiskFormat::qcow2);
    CHECK(d.read_only);
    CHECK(ok("/a,qcow,xvda").format == DiskFormat::qcow);
    CHECK(ok("/a,vhd,xvda").format == DiskFormat::vhd);
    CHECK(ok("/a,qed,xvda").format == DiskFormat::qed);
    CHECK(ok("/a,,xvda,r").read_only);
    CHECK_FALSE(ok("/a,,xvda,").read_only); // an empty access is rw
    CHECK_FALSE(ok("access=,/a,,xvda").read_only);
    CHECK(ok("format=,/a,xvda").format == DiskFormat::raw); // format= fills the slot: no positional format
    CHECK(ok("vdev=,vdev=xvda,target=/a").vdev == "xvda"); // an empty value may be given again
    CHECK(ok("format=raw,format=raw,vdev=xvda,target=/a").format == DiskFormat::raw);
    CHECK(ok("/a b,,xvda").target == "/a b");
    CHECK(ok("/a,,xvda:disk").devtype == DiskDevtype::disk);
    CHECK(ok("cdrom,devtype=disk,/a,,xvda").devtype == DiskDevtype::disk);

    // Blanks around items are dropped (libxlutil keeps trailing ones).
    CHECK(show(ok(" /a , raw , xvda , w ")) == show(ok("/a,raw,xvda,w")));
    CHECK(ok("vdev = xvda , target = /a ").target == "/a");
}

TEST_CASE("disk_spec: cdrom drives, with and without media", "[config][disk]") {
    DiskSpec d = ok(",hdc:cdrom,r");
    CHECK(d.target.empty());
    CHECK(d.format == DiskFormat::empty);
    CHECK(d.vdev == "hdc");
    CHECK(d.devtype == DiskDevtype::cdrom);
    CHECK(d.read_only);
    d = ok("vdev=hdc,devtype=cdrom");
    CHECK(d.target.empty());
    CHECK(d.format == DiskFormat::empty);
    d = ok("/a.iso,,xvdc,cdrom,rw");
    CHECK(d.read_only);
    CHECK(d.format == DiskFormat::raw);
    CHECK(ok("cdrom,/a,,xvda").devtype == DiskDevtype::cdrom);
}

TEST_CASE("disk_spec: legacy prefixes", "[config][disk]") {
    DiskSpec d = ok("tap:qcow2:/a,xvda,w");
    CHECK(d.format == DiskFormat::qcow2);
    CHECK(d.legacy_prefix == "tap:qcow2:");
    d = ok("tap2:tapdisk:aio:/a,xvda,w");
    CHECK(d.format == DiskFormat::raw);
    CHECK(d.legacy_prefix == "tap2:tapdisk:aio:");
    d = ok("nbd:host:123,xvda,w");
    CHECK(d.target == "host:123");
    CHECK(d.script == "block-nbd");
    CHECK(ok("iscsi:iqn.2001-04.com.example:disk,xvda").script == "block-iscsi");
    CHECK(ok("enbd:h,xvda").script == "block-enbd");
    CHECK(ok("drbd:res0,xvda").script == "block-drbd");
    d = ok("phy:/dev/sda,xvda,r");
    CHECK(d.target == "/dev/sda");
    CHECK(d.read_only);
    CHECK(ok("ioemu:/a,hda").legacy_prefix == "ioemu:");
    CHECK(ok("qcow:/a,hda").format == DiskFormat::qcow);
    CHECK(ok("vhd:/a,hda").format == DiskFormat::vhd);
    // After a prefix the format slot is skipped: the next item is the vdev.
    CHECK(ok("file:/a,xvda,ro,").read_only);
}

TEST_CASE("disk_spec: target= takes the rest of the spec", "[config][disk]") {
    CHECK(ok("vdev=xvda,target=/a,b,c").target == "/a,b,c");
    CHECK(ok("vdev=xvda, target=/a:b,").target == "/a:b"); // one trailing comma dropped
    CHECK(ok("vdev=xvda,target=file:/x").target == "file:/x");
    // A positional first is the target, so a later target= repeats it.
    CHECK(bad("xvda:disk,target=/a") == "'xvda:disk,target=/a': 'target=/a': target given twice");
}

TEST_CASE("disk_spec: keys and flags", "[config][disk]") {
    const DiskSpec d = ok("discard,trusted,direct-io-safe,backendtype=qdisk,backend=dom1,script=block-x,"
                          "specification=virtio,grant_usage=0,/a,qcow2,xvdb,ro");
    CHECK(show(d) == "target=/a format=qcow2 vdev=xvdb ro disk backendtype=qdisk backend=dom1 script=block-x "
                     "spec=virtio dio=1 discard=1 trusted=1 grant=0 prefix=");
    CHECK(ok("no-discard,untrusted,grant_usage=1,/a,,xvda").discard == false);
    CHECK(ok("no-discard,untrusted,/a,,xvda").trusted == false);
    CHECK(ok("grant_usage=1,/a,,xvda").grant_usage == true);
    CHECK(ok("backendtype=phy,/a,,xvda").backendtype == DiskBackendType::phy);
    CHECK(ok("backendtype=tap,/a,,xvda").backendtype == DiskBackendType::tap);
    CHECK(ok("backendtype=standalone,backendtype=standalone,/a,,xvda").backendtype == DiskBackendType::standalone);
    CHECK(ok("specification=xen,/a,,xvda").specification == DiskSpecification::xen);
    CHECK(ok("format=empty,devtype=cdrom,vdev=hdc").format == DiskFormat::empty);
}

TEST_CASE("disk_spec: names", "[config][disk]") {
    CHECK(std::string(hv::config::disk_format_name(DiskFormat::qed)) == "qed");
    CHECK(std::string(hv::config::disk_devtype_name(DiskDevtype::cdrom)) == "cdrom");
    CHECK(std::string(hv::config::disk_backend_type_name(DiskBackendType::unset)).empty());
    CHECK(std::string(hv::config::disk_backend_type_name(DiskBackendType::standalone)) == "standalone");
    CHECK(std::string(hv::config::disk_specification_name(DiskSpecification::virtio)) == "virtio");
    CHECK(std::string(hv::config::disk_specification_name(DiskSpecification::unset)).empty());
}

TEST_CASE("disk_spec: every refusal, with its message", "[config][disk]") {
    // Missing pieces.
    CHECK(bad("a") == "'a': no vdev given");
    CHECK(bad("") == "'': no vdev given");
    CHECK(bad(",") == "',': no vdev given");
    CHECK(bad("target=/a,vdev=xvda") == "'target=/a,vdev=xvda': no vdev given"); // target= took it all
    CHECK(bad("vdev=,/a,,") == "'vdev=,/a,,': no vdev given");
    CHECK(bad(",,hda") == "',,hda': no target given (only a cdrom may have none)");
    CHECK(bad("vdev=xvda") == "'vdev=xvda': no target given (only a cdrom may have none)");

    // Bad values.
    CHECK(bad("/a,xvda") == "'/a,xvda': 'xvda': unknown format" + formats); // no prefix: slot 2 is the format
    CHECK(bad("/a,hda,w") == "'/a,hda,w': 'hda': unknown format" + formats);
    CHECK(bad("/a,qcow3,xvda") == "'/a,qcow3,xvda': 'qcow3': unknown format" + formats);
    CHECK(bad("format=vmdk,/a,,xvda") == "'format=vmdk,/a,,xvda': 'format=vmdk': unknown format" + formats);
    CHECK(bad("/a,raw,xvda,x") == "'/a,raw,xvda,x': 'x': unknown access (ro, r, rw, w)");
    CHECK(bad("access=rx,/a,,xvda") == "'access=rx,/a,,xvda': 'access=rx': unknown access (ro, r, rw, w)");
    CHECK(bad("devtype=floppy,vdev=xvda,target=/a") ==
          "'devtype=floppy,vdev=xvda,target=/a': 'devtype=floppy': unknown devtype (disk, cdrom)");
    CHECK(bad("/a,raw,xvda:floppy") ==
          "'/a,raw,xvda:floppy': 'xvda:floppy': unknown device type after ':' (cdrom, disk)");
    CHECK(bad("backendtype=foo,/a,,xvda") ==
          "'backendtype=foo,/a,,xvda': 'backendtype=foo': unknown backendtype (phy, tap, qdisk, standalone)");
    CHECK(bad("specification=scsi,/a,,xvda") ==
          "'specification=scsi,/a,,xvda': 'specification=scsi': unknown specification (xen, virtio)");
    CHECK(bad("grant_usage=2,/a,,xvda") == "'grant_usage=2,/a,,xvda': 'grant_usage=2': grant_usage is 0 or 1");

    // Given twice.
    CHECK(bad("vdev=xvda,vdev=xvdb,target=/a") ==
          "'vdev=xvda,vdev=xvdb,target=/a': 'vdev=xvdb': vdev given twice");
    CHECK(bad("vdev=xvda,vdev=xvda,target=/a") ==
          "'vdev=xvda,vdev=xvda,target=/a': 'vdev=xvda': vdev given twice");
    CHECK(bad("format=raw,format=qcow2,vdev=xvda,target=/a") ==
          "'format=raw,format=qcow2,vdev=xvda,target=/a': 'format=qcow2': format given twice");
    CHECK(bad("raw:qcow2:/a,xvda") == "'raw:qcow2:/a,xvda': 'qcow2:': format given twice");
    CHECK(bad("/a,,xvda,target=/b") == "'/a,,xvda,target=/b': 'target=/b': target given twice");
    CHECK(bad("script=a,script=b,/a,,xvda") == "'script=a,script=b,/a,,xvda': 'script=b': script given twice");
    CHECK(bad("nbd:iscsi:h,xvda") == "'nbd:iscsi:h,xvda': 'iscsi:': script given twice");
    CHECK(bad("backend=a,backend=b,/a,,xvda") == "'backend=a,backend=b,/a,,xvda': 'backend=b': backend given twice");
    CHECK(bad("backendtype=phy,backendtype=tap,/a,,xvda") ==
          "'backendtype=phy,backendtype=tap,/a,,xvda': 'backendtype=tap': backendtype given twice");
    CHECK(bad("specification=xen,specification=virtio,/a,,xvda") ==
          "'specification=xen,specification=virtio,/a,,xvda': 'specification=virtio': specification given twice");
    CHECK(bad("/a,xvda:cdrom,xvdb") == "'/a,xvda:cdrom,xvdb': 'xvda:cdrom': unknown format" + formats);
    // With an empty target the format slot may hold "vdev:cdrom"; the next item is then the access.
    CHECK(bad(",xvda:cdrom,xvdb:cdrom") == "',xvda:cdrom,xvdb:cdrom': 'xvdb:cdrom': unknown access (ro, r, rw, w)");

    // Syntax.
    CHECK(bad("/a,raw,xvda,rw,extra") ==
          "'/a,raw,xvda,rw,extra': 'extra': too many positional parameters (target, format, vdev, access)");
    CHECK(bad("foo=bar,vdev=xvda,target=/a") == "'foo=bar,vdev=xvda,target=/a': 'foo=bar': unknown key" + keys);
    CHECK(bad("foo=,vdev=xvda,target=/a") == "'foo=,vdev=xvda,target=/a': 'foo=': unknown key" + keys);
    CHECK(bad("Target=/a,,xvda") == "'Target=/a,,xvda': 'Target=/a': unknown key" + keys);
    CHECK(bad("/a=b,,xvda") ==
          "'/a=b,,xvda': '/a=b': '=' in a positional parameter (a target with '=' needs target=, written last)");
    CHECK(bad("vdev=xvdb,/a=") == // libxlutil drops a '=' at the very end
          "'vdev=xvdb,/a=': '/a=': '=' in a positional parameter (a target with '=' needs target=, written last)");
    CHECK(bad("qed:/a,xvda,w") == "'qed:/a,xvda,w': 'qed:': unknown legacy prefix" + prefixes);
    CHECK(bad("foo:/a,xvda") == "'foo:/a,xvda': 'foo:': unknown legacy prefix" + prefixes);
    CHECK(bad("hdb:,w") == "'hdb:,w': 'hdb:': unknown legacy prefix" + prefixes);
    CHECK(bad("/a,,xvda:") == "'/a,,xvda:': 'xvda:': unknown legacy prefix" + prefixes);
    CHECK(bad("tap:foo:/a,xvda") == "'tap:foo:/a,xvda': 'foo:': unknown legacy prefix" + prefixes);

    // COLO.
    CHECK(bad("colo,/a,,xvda") == "'colo,/a,,xvda': 'colo': COLO disk replication is not supported");
    CHECK(bad("no-colo,/a,,xvda") == "'no-colo,/a,,xvda': 'no-colo': COLO disk replication is not supported");
    for (const char* key : {"colo-host", "colo-port", "colo-export", "active-disk", "hidden-disk"}) {
        INFO(key);
        CHECK(bad(std::string(key) + "=x,/a,,xvda") == "'" + std::string(key) + "=x,/a,,xvda': '" + key +
                                                         "=x': COLO disk replication is not supported");
    }
}

TEST_CASE("disk spec: hv's rate= and iops= limits", "[config][disk][qos]") {
    auto d = hv::config::parse_disk_spec("format=raw, vdev=xvda, access=rw, rate=40Mb/s, iops=500@20ms, target=/img");
    REQUIRE(d);
    CHECK(d->rate == "40Mb/s");
    CHECK(d->rate_bytes_per_interval == 250000); // 5 MB/s for the default 50 ms
    CHECK(d->rate_interval_usecs == 50000);
    CHECK(d->iops == "500@20ms");
    CHECK(d->iops_per_interval == 10);
    CHECK(d->iops_interval_usecs == 20000);
    CHECK(d->target == "/img");
    const auto error = [](const char* spec) {
        auto r = hv::config::parse_disk_spec(spec);
        REQUIRE_FALSE(r);
        return r.error().message;
    };
    CHECK(error("/img,raw,xvda,rw,iops=fast") .find("iops is a number of requests a second") != std::string::npos);
    CHECK(error("vdev=xvda,iops=1@1us,target=/img").find("iops is less than one request per interval") != std::string::npos);
    CHECK(error("vdev=xvda,rate=1b/s@1us,target=/img").find("rate is less than one byte per interval") != std::string::npos);
    CHECK(error("vdev=xvda,rate=10Mb/s,rate=1MB/s,target=/img").find("rate given twice") != std::string::npos);
    CHECK(error("vdev=xvda,rate=10Mbit,target=/img").find("bad rate") != std::string::npos);
}
