// hvctl's device commands before any monitor is asked
// (tools/hvctl/device_args.cpp, cli_args.cpp): specs joined and made
// absolute, -t's range, block-limits' keys, a disk found by vdev or devid,
// and --persist as a long flag.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "../../../tools/hvctl/cli_args.hpp"
#include "../../../tools/hvctl/device_args.hpp"
#include "config/disk_spec.hpp"

using namespace hvctl;

TEST_CASE("hvctl devices: spec components are joined as xl joins them", "[hvctl][devices]") {
    CHECK(join_spec({}).empty());
    CHECK(join_spec({"mac=00:16:3e:00:00:01"}) == "mac=00:16:3e:00:00:01");
    CHECK(join_spec({"/img/b.img", "raw", "xvdb", "w"}) == "/img/b.img,raw,xvdb,w");
}

TEST_CASE("hvctl devices: a disk spec is sent with an absolute target", "[hvctl][devices]") {
    // As written when the target is absolute (or a cdrom has none).
    CHECK(*disk_spec_to_send("file:/img/b.img,xvdb,w", "/home/u") == "file:/img/b.img,xvdb,w");
    CHECK(*disk_spec_to_send(",,hdc:cdrom", "/home/u") == ",,hdc:cdrom");
    // A relative one means hvctl's working directory.
    auto s = disk_spec_to_send("images/../b.img,qcow2,xvdb,r", "/home/u");
    REQUIRE(s);
    auto d = hv::config::parse_disk_spec(*s);
    REQUIRE(d);
    CHECK(d->target == "/home/u/b.img");
    CHECK(d->vdev == "xvdb");
    CHECK(d->format == hv::config::DiskFormat::qcow2);
    CHECK(d->read_only);
    // One that does not parse says where.
    auto bad = disk_spec_to_send("/img/b.img,raw", "/home/u");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("no vdev"));
}

TEST_CASE("hvctl devices: -t is whole seconds from 1 to 600", "[hvctl][devices]") {
    CHECK(*detach_timeout_ms(std::nullopt) == 0); // the monitor's default, 10 s
    CHECK(*detach_timeout_ms(std::string("1")) == 1000);
    CHECK(*detach_timeout_ms(std::string("600")) == 600000);
    for (const char* t : {"0", "601", "1.5", "-1", "ten", "", "99999", "00000000000000000001"}) {
        auto r = detach_timeout_ms(std::string(t));
        INFO(t);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("1 to 600"));
    }
}

TEST_CASE("hvctl devices: block-limits reads rate= and iops= as a disk spec does", "[hvctl][devices]") {
    auto l = disk_limits_of({"rate=40Mb/s"});
    REQUIRE(l);
    CHECK(l->rate_bytes == 250000); // 5 MB/s over the default 50 ms
    CHECK(l->rate_interval_us == 50000);
    CHECK(l->iops == 0); // not given: lifted
    l = disk_limits_of({"iops=2000@20ms", "rate=100MB/s@20ms"});
    REQUIRE(l);
    CHECK(l->iops == 40);
    CHECK(l->iops_interval_us == 20000);
    CHECK(l->rate_bytes == 2000000);
    l = disk_limits_of({"rate=0", "iops=none"});
    REQUIRE(l);
    CHECK(l->rate_bytes == 0);
    CHECK(l->iops == 0);

    const std::vector<std::vector<std::string>> bad = {
        {}, {"rate=1Mb/s", "rate=2Mb/s"}, {"speed=1"}, {"rate"}, {"rate=10Mb"}, {"iops=fast"}, {"iops=1@0ms"}};
    for (const auto& keys : bad) {
        auto r = disk_limits_of(keys);
        INFO((keys.empty() ? std::string("(none)") : keys[0]));
        CHECK_FALSE(r);
    }
    CHECK_THAT(disk_limits_of({"rate=10Mb"}).error().message, Catch::StartsWith("rate '10Mb': bad rate"));
}

TEST_CASE("hvctl devices: a disk is found by its vdev or its devid", "[hvctl][devices]") {
    std::vector<hv::sdk::BlockInfo> disks(2);
    disks[0].devid = 51712;
    disks[0].vdev = "xvda";
    disks[1].devid = 51728;
    disks[1].vdev = "xvdb";
    CHECK(disk_devid(disks, "xvdb") == 51728u);
    CHECK(disk_devid(disks, "51712") == 51712u);
    CHECK_FALSE(disk_devid(disks, "xvdc"));
    CHECK_FALSE(disk_devid(disks, "51713"));
}

TEST_CASE("hvctl devices: --persist is a long flag, anywhere", "[hvctl][devices][args]") {
    const ParsedArgs p = parse_args("block-detach", {"web", "--persist", "-f", "-t", "30", "xvdb"}, "ft:", "usage", {},
                                    {"persist"});
    REQUIRE_FALSE(p.done);
    CHECK(p.has("persist"));
    CHECK(p.has('f'));
    CHECK(p.value("t") == std::string("30"));
    CHECK(p.positional == std::vector<std::string>{"web", "xvdb"});
    CHECK_FALSE(parse_args("block-detach", {"web", "xvdb"}, "ft:", "usage", {}, {"persist"}).has("persist"));
    // A flag takes no value, and one not listed is unknown (both usage errors).
    CHECK(parse_args("block-detach", {"--persist=yes", "web", "xvdb"}, "ft:", "usage", {}, {"persist"}).done == 1);
    CHECK(parse_args("block-detach", {"--persist", "web", "xvdb"}, "ft:", "usage").done == 1);
}
