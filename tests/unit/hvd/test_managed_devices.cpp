// tools/hvd/managed_devices.hpp: a managed domain's stored definition with
// a device added or removed (hotplug with --persist). What the next start
// reads is checked by reading the changed definition as a create does
// (control::config_of): the devices it then has, with the devids, targets
// and other keys it had; and the record survives the store's round trip.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/guest_vifs.hpp"
#include "config/vif_spec.hpp"
#include "control/monitor_backend.hpp"
#include "managed_devices.hpp"
#include "managed_store.hpp"

using hv::Errc;
using hv::sdk::CreateRequest;
using hv::sdk::DeviceKind;
using hvd::definition_with_device;
using hvd::definition_without_device;

namespace {

CreateRequest definition(std::string devices, std::vector<std::string> overrides = {}) {
    CreateRequest r;
    r.source = "/etc/hv/web.cfg";
    r.config_text = "name = 'web'\nkernel = '/boot/vmlinuz'\nmemory = 256\n" + devices;
    r.overrides = std::move(overrides);
    return r;
}

hv::config::DomainConfig read(const CreateRequest& r) {
    auto cfg = hv::control::config_of(r);
    INFO((cfg ? std::string("ok") : cfg.error().message));
    REQUIRE(cfg);
    return *cfg;
}

CreateRequest ok(hv::Result<CreateRequest> r) {
    INFO((r ? std::string("ok") : r.error().message));
    REQUIRE(r);
    return *r;
}

std::vector<std::string> vdevs(const hv::config::DomainConfig& c) {
    std::vector<std::string> out;
    for (const auto& d : c.disks) out.push_back(d.vdev);
    return out;
}

// Each vif's devid as the next start numbers it.
std::vector<uint32_t> devids(const hv::config::DomainConfig& c) {
    std::vector<uint32_t> out;
    for (size_t i = 0; i < c.vifs.size(); ++i) out.push_back(hv::config::vif_devid(c.vifs[i], i));
    return out;
}

} // namespace

TEST_CASE("managed devices: an attached disk is in the definition, the file's text untouched", "[hvd][managed][devices]") {
    const CreateRequest def = definition("disk = [ 'file:/img/a.img,xvda,w' ]\n");
    const CreateRequest changed = ok(definition_with_device(def, DeviceKind::disk, "/img/b.img,qcow2,xvdb,r", 0));
    CHECK(changed.config_text == def.config_text);
    CHECK(changed.source == def.source);
    REQUIRE(changed.overrides.size() == 1);
    const auto cfg = read(changed);
    CHECK(vdevs(cfg) == std::vector<std::string>{"xvda", "xvdb"});
    CHECK(cfg.disks[0].target == "/img/a.img");
    CHECK(cfg.disks[1].target == "/img/b.img");
    CHECK(cfg.disks[1].format == hv::config::DiskFormat::qcow2);
    CHECK(cfg.disks[1].read_only);
    CHECK(cfg.memory_mib == 256);

    // Again: still one override (the list is restated, not piled up).
    const CreateRequest twice = ok(definition_with_device(changed, DeviceKind::disk, "/img/c.img,raw,xvdc,w", 0));
    CHECK(twice.overrides.size() == 1);
    CHECK(vdevs(read(twice)) == std::vector<std::string>{"xvda", "xvdb", "xvdc"});

    // The same vdev again: what the attach says it now is replaces it.
    const CreateRequest replaced = ok(definition_with_device(twice, DeviceKind::disk, "/img/new-b.img,raw,xvdb,w", 0));
    const auto r = read(replaced);
    CHECK(vdevs(r) == std::vector<std::string>{"xvda", "xvdb", "xvdc"});
    CHECK(r.disks[1].target == "/img/new-b.img");
}

TEST_CASE("managed devices: a detached disk is gone from the definition, by vdev or devid", "[hvd][managed][devices]") {
    const CreateRequest def = definition("disk = [ 'file:/img/a.img,xvda,w', 'file:/img/b.img,xvdb,w', "
                                         "'file:/img/c.img,xvdc,w' ]\n");
    CHECK(vdevs(read(ok(definition_without_device(def, DeviceKind::disk, "xvdb")))) == std::vector<std::string>{"xvda", "xvdc"});
    // Xen's number for xvdb: 202 << 8 | 1 << 4.
    CHECK(vdevs(read(ok(definition_without_device(def, DeviceKind::disk, "51728")))) == std::vector<std::string>{"xvda", "xvdc"});
    const CreateRequest last = ok(definition_without_device(
        ok(definition_without_device(ok(definition_without_device(def, DeviceKind::disk, "xvda")), DeviceKind::disk, "xvdb")),
        DeviceKind::disk, "xvdc"));
    CHECK(read(last).disks.empty());

    for (const char* missing : {"xvdz", "51729", "0"}) {
        auto r = definition_without_device(def, DeviceKind::disk, missing);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::not_found);
        CHECK_THAT(r.error().message, Catch::Contains(missing));
    }
}

TEST_CASE("managed devices: vifs keep their devids when the list changes shape", "[hvd][managed][devices]") {
    const CreateRequest def = definition("vif = [ 'bridge=xenbr0', 'mac=00:16:3e:00:00:02,bridge=xenbr1' ]\n");
    // Detaching vif 0 does not renumber vif 1 (its TAP and generated MAC follow the devid).
    const CreateRequest without0 = ok(definition_without_device(def, DeviceKind::vif, "0"));
    auto cfg = read(without0);
    CHECK(devids(cfg) == std::vector<uint32_t>{1});
    CHECK(cfg.vifs[0].bridge == "xenbr1");

    // An attached vif gets the devid the running domain gave it.
    const CreateRequest with = ok(definition_with_device(without0, DeviceKind::vif, "bridge=xenbr2", 5));
    cfg = read(with);
    CHECK(devids(cfg) == std::vector<uint32_t>{1, 5});
    CHECK(cfg.vifs[1].bridge == "xenbr2");
    CHECK(with.overrides.size() == 1);

    // An empty spec is one vif with every default.
    cfg = read(ok(definition_with_device(def, DeviceKind::vif, "", 2)));
    CHECK(devids(cfg) == std::vector<uint32_t>{0, 1, 2});
    CHECK(cfg.vifs[2].bridge.empty());

    // By mac=, either case.
    cfg = read(ok(definition_without_device(def, DeviceKind::vif, "00:16:3E:00:00:02")));
    CHECK(devids(cfg) == std::vector<uint32_t>{0});

    auto r = definition_without_device(def, DeviceKind::vif, "00:16:3e:00:00:09");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::not_found);
    r = definition_without_device(def, DeviceKind::vif, "7");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::not_found);
    r = definition_without_device(def, DeviceKind::vif, "eth0");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
}

TEST_CASE("managed devices: other overrides stay; those that only set the list go", "[hvd][managed][devices]") {
    const CreateRequest def = definition("disk = [ 'file:/img/a.img,xvda,w' ]\n",
                                         {"memory=512", "disk=['file:/img/o.img,xvdo,w']", "vcpus=2; disk=[]"});
    const CreateRequest changed = ok(definition_with_device(def, DeviceKind::disk, "/img/b.img,raw,xvdb,w", 0));
    const std::vector<std::string> kept{"memory=512", "vcpus=2; disk=[]"};
    REQUIRE(changed.overrides.size() == 3);
    CHECK(std::vector<std::string>(changed.overrides.begin(), changed.overrides.begin() + 2) == kept);
    const auto cfg = read(changed);
    CHECK(cfg.memory_mib == 512);
    CHECK(cfg.vcpus == 2);
    // The list as the definition had it after every override (xvdo, whose
    // override was last for disk=, was replaced by "disk=[]"), plus the new one.
    CHECK(vdevs(cfg) == std::vector<std::string>{"xvdb"});
}

TEST_CASE("managed devices: relative targets become the config folder's; odd characters survive", "[hvd][managed][devices]") {
    const CreateRequest def = definition("disk = [ 'images/a.img,raw,xvda,w' ]\n");
    auto cfg = read(ok(definition_with_device(def, DeviceKind::disk, "vdev=xvdb, target=/img/it's, a \\ \"test\".img", 0)));
    REQUIRE(cfg.disks.size() == 2);
    CHECK(cfg.disks[0].target == "/etc/hv/images/a.img");
    CHECK(cfg.disks[1].target == "/img/it's, a \\ \"test\".img");
}

TEST_CASE("managed devices: what cannot be changed says why", "[hvd][managed][devices]") {
    CreateRequest spec;
    spec.spec = hv::sdk::DomainSpec{};
    spec.spec->name = "typed";
    spec.spec->kernel = "/boot/vmlinuz";
    auto r = definition_with_device(spec, DeviceKind::vif, "", 0);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("DomainSpec"));

    r = definition_with_device(definition(""), DeviceKind::disk, "/img/b.img,nosuchformat,xvdb", 0);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK_THAT(r.error().message, Catch::StartsWith("disk '/img/b.img,nosuchformat,xvdb'"));

    CreateRequest broken = definition("memory = [\n");
    r = definition_without_device(broken, DeviceKind::disk, "xvda");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("does not read"));
}

TEST_CASE("managed devices: a changed definition survives the store's record", "[hvd][managed][devices]") {
    const CreateRequest def = definition("vif = [ 'bridge=xenbr0' ]\n", {"memory=300"});
    const CreateRequest changed = ok(definition_with_device(def, DeviceKind::vif, "mac=00:16:3e:aa:bb:cc", 3));
    auto back = hvd::ManagedStore::parse(hvd::ManagedStore::serialize(changed), "web.hvdom");
    REQUIRE(back);
    CHECK(back->overrides == changed.overrides);
    const auto cfg = read(*back);
    CHECK(devids(cfg) == std::vector<uint32_t>{0, 3});
    CHECK(cfg.memory_mib == 300);
}

TEST_CASE("config_of: relative kernel, ramdisk and disk targets mean the config's folder", "[hvd][managed][config]") {
    CreateRequest r;
    r.source = "/etc/hv/web.cfg";
    r.config_text = "name = 'web'\nkernel = 'k/vmlinuz'\nramdisk = 'initrd.img'\nmemory = 256\n"
                    "disk = [ 'disks/root.img,raw,xvda,rw', '/abs/data.img,raw,xvdb,rw' ]\n";
    r.overrides = {"disk=['../shared/x.img,raw,xvdc,r']"};
    const auto c = read(r);
    CHECK(c.kernel == "/etc/hv/k/vmlinuz");
    CHECK(c.ramdisk == "/etc/hv/initrd.img");
    REQUIRE(c.disks.size() == 1); // the override's list replaces the file's, as xl's does
    CHECK(c.disks[0].target == "/etc/shared/x.img");
    r.overrides.clear();
    const auto d = read(r);
    REQUIRE(d.disks.size() == 2);
    CHECK(d.disks[0].target == "/etc/hv/disks/root.img");
    CHECK(d.disks[1].target == "/abs/data.img");
}
