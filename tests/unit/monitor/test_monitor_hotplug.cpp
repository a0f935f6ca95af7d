// Disk hotplug on the fake platform, with a scripted guest that does what
// Linux's acpiphp does through hv's ACPI registers: it enables the GPE,
// reads the hotplug controller's UP and DOWN registers, scans a slot's
// configuration space, and ejects (the _EJ0 write). The monitor's side:
// attach puts the disk in the lowest free slot and raises the SCI; detach
// asks (DOWN), waits for the guest's eject, times out with the request
// left open, or removes by force and tells the guest; a guest cannot eject
// the PV console; bad names and specs are refused by name. And io_weight:
// a domain's disks on one device, at create or hot-attached, hold one slot
// of that device's share table, which goes with the domain.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <future>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "../boot/kernel_image.hpp"
#include "../devices/netns.hpp"
#include "../fd_count.hpp"
#include "config/domain_config.hpp"
#include "config/disk_spec.hpp"
#include "config/vif_spec.hpp"
#include "core/acpi/acpi_tables.hpp"
#include "core/pci/hotplug_slots.hpp"
#include "core/qos/share_arbiter.hpp"
#include "devices/block/io_share.hpp"
#include "fake_platform.hpp"
#include "monitor/monitor.hpp"
#include "pvh_image.hpp"

using namespace std::chrono_literals;
using hv::sdk::DeviceKind;

namespace {

// The guest: port accesses the test asks for, one per vCPU exit, with the
// results handed back. The vCPU spins in between; a kick brings it out.
class PortScript {
public:
    std::optional<hv::platform::VcpuExit> step(hvtest::FakeVcpu& v) {
        std::lock_guard lock(mu_);
        vcpu_ = &v;
        if (in_exit_) { // the monitor handled the last exit: its result is in buf_
            in_exit_ = false;
            results_.push_back(static_cast<uint32_t>(buf_[0] | buf_[1] << 8 | buf_[2] << 16 | uint32_t{buf_[3]} << 24));
            cv_.notify_all();
        }
        if (ops_.empty()) return std::nullopt;
        const Op op = ops_.front();
        ops_.pop_front();
        for (int i = 0; i < 4; ++i) buf_[i] = static_cast<uint8_t>(op.value >> (8 * i));
        in_exit_ = true;
        return hv::platform::IoExit{op.port, op.size, op.write, 1, buf_};
    }
    // One access, done by the guest's vCPU; what a read returned.
    uint32_t access(uint16_t port, uint8_t size, bool write, uint32_t value = 0) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, 5s, [&] { return vcpu_ != nullptr; });
        REQUIRE(vcpu_ != nullptr);
        const size_t want = results_.size() + 1;
        ops_.push_back(Op{port, size, write, value});
        vcpu_->kick();
        REQUIRE(cv_.wait_for(lock, 5s, [&] { return results_.size() >= want; }));
        return results_[want - 1];
    }
    uint32_t in(uint16_t port, uint8_t size = 4) { return access(port, size, false); }
    void out(uint16_t port, uint32_t value, uint8_t size = 4) { access(port, size, true, value); }
    // Mechanism #1: the vendor id of bus 0's `slot` (0xffff: empty).
    uint32_t vendor(uint32_t slot) {
        out(0xcf8, 0x80000000u | (slot << 11));
        return in(0xcfc) & 0xffff;
    }

private:
    struct Op {
        uint16_t port;
        uint8_t size;
        bool write;
        uint32_t value;
    };
    std::mutex mu_;
    std::condition_variable cv_;
    hvtest::FakeVcpu* vcpu_ = nullptr;
    std::deque<Op> ops_;
    std::vector<uint32_t> results_;
    bool in_exit_ = false;
    uint8_t buf_[4]{};
};

struct TempDisk {
    std::string path;
    explicit TempDisk(const char* tag) : path(std::string("/tmp/hv-hotplug-") + tag + "-" + std::to_string(::getpid())) {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f != nullptr);
        std::vector<char> zero(1 << 20, 0);
        REQUIRE(std::fwrite(zero.data(), 1, zero.size(), f) == zero.size());
        std::fclose(f);
    }
    ~TempDisk() { std::remove(path.c_str()); }
};

constexpr uint16_t kUp = hv::core::acpi::kPciHotplugPort + hv::core::pci::HotplugSlots::kUp;
constexpr uint16_t kDown = hv::core::acpi::kPciHotplugPort + hv::core::pci::HotplugSlots::kDown;
constexpr uint16_t kEject = hv::core::acpi::kPciHotplugPort + hv::core::pci::HotplugSlots::kEject;
constexpr uint16_t kGone = hv::core::acpi::kPciHotplugPort + hv::core::pci::HotplugSlots::kGone;
constexpr uint16_t kGpeStatus = hv::core::acpi::kGpe0Port;
constexpr uint16_t kGpeEnable = hv::core::acpi::kGpe0Port + 2;
constexpr uint32_t kGpeBit = 1u << hv::core::acpi::kGpePciHotplug;

// A monitor on the fake platform whose vCPUs run `guest`.
hv::Result<std::unique_ptr<hv::Monitor>> open_monitor(std::shared_ptr<hvtest::FakeHypervisor> platform) {
    hv::Monitor::Options o;
    o.platform = std::move(platform);
    o.log_level = "off";
    return hv::Monitor::open(o);
}

std::shared_ptr<hvtest::FakeHypervisor> platform_for(PortScript& guest) {
    return std::make_shared<hvtest::FakeHypervisor>([&guest](hvtest::FakeVcpu& v) { return guest.step(v); });
}

// The weights of the slots held in `device`'s share table under `dir`.
std::multiset<uint32_t> share_weights(const std::string& dir, uint64_t device) {
    std::multiset<uint32_t> held;
    std::ifstream f(hv::dev::IoShare::table_path(dir, device), std::ios::binary);
    hv::core::qos::ShareTable t{};
    if (!f.read(reinterpret_cast<char*>(&t), sizeof t)) return held;
    for (const auto& s : t.slots)
        if (s.weight != 0) held.insert(s.weight);
    return held;
}

bool sci(hvtest::FakeVm* vm) {
    std::lock_guard lock(vm->irq_mu);
    return vm->irq_levels[hv::core::acpi::kSciIrq];
}

} // namespace

TEST_CASE("monitor: disks are hot-attached and detached through hv's ACPI PCI hotplug", "[monitor][fake][hotplug]") {
    PortScript guest;
    hvtest::FakeVm* vm = nullptr;
    auto platform = platform_for(guest);
    auto m = open_monitor(platform);
    REQUIRE(m);
    hvbench::TempFile kernel{hvtest::without_hv_note(hvbench::pvh_elf(hvbench::first_byte_code()))};
    TempDisk boot("a"), extra("b");
    hv::config::DomainConfig c;
    c.name = "hotplug";
    c.kernel = kernel.path();
    c.memory_mib = 32;
    c.disks = {*hv::config::parse_disk_spec(boot.path + ",raw,xvda,rw")};
    auto id = (*m)->create(c);
    REQUIRE(id);
    vm = platform->last_vm();
    REQUIRE(vm != nullptr);

    // At boot: xvda in slot 1, the PV console in slot 2; nothing announced.
    CHECK(guest.vendor(1) == 0x1af4);
    CHECK(guest.vendor(2) == 0x1af4);
    CHECK(guest.vendor(3) == 0xffff);
    CHECK(guest.in(kUp) == 0u);
    guest.out(kGpeEnable, kGpeBit, 2); // ACPICA enables the GPE that has an _E01

    // Attach: the lowest free slot, announced in UP with the SCI raised.
    auto devid = (*m)->attach_device(*id, DeviceKind::disk, extra.path + ",raw,xvdb,rw");
    REQUIRE(devid);
    CHECK(*devid == 51728u); // Xen's number for xvdb
    CHECK(sci(vm));
    CHECK(guest.in(kGpeStatus, 2) == kGpeBit);
    guest.out(kGpeStatus, kGpeBit, 2); // the guest acknowledges
    CHECK_FALSE(sci(vm));
    CHECK(guest.in(kUp) == (1u << 3));
    CHECK(guest.in(kUp) == 0u);
    CHECK(guest.vendor(3) == 0x1af4);
    auto disks = (*m)->block_list(*id);
    REQUIRE(disks);
    REQUIRE(disks->size() == 2);
    CHECK((*disks)[1].vdev == "xvdb");
    CHECK((*disks)[1].guest == "vdb");
    CHECK((*disks)[1].target == extra.path);

    // Bad input: named, nothing changes.
    auto dup = (*m)->attach_device(*id, DeviceKind::disk, extra.path + ",raw,xvda,rw");
    REQUIRE_FALSE(dup);
    CHECK(dup.error().message.find("xvda") != std::string::npos);
    auto missing = (*m)->attach_device(*id, DeviceKind::disk, "/nonexistent/disk.img,raw,xvdc,rw");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("/nonexistent/disk.img") != std::string::npos);
    auto nodisk = (*m)->detach_device(*id, DeviceKind::disk, "xvdz", false, 100ms);
    REQUIRE_FALSE(nodisk);
    CHECK(nodisk.error().code == hv::Errc::not_found);
    CHECK(nodisk.error().message.find("xvdz") != std::string::npos);
    CHECK((*m)->detach_device(*id, DeviceKind::vif, "0", false, 100ms).error().code == hv::Errc::not_found);
    CHECK((*m)->block_list(*id)->size() == 2);

    // Detach: asked in DOWN; a guest that does not answer times it out,
    // and the request stays open.
    auto slow = (*m)->detach_device(*id, DeviceKind::disk, "xvdb", false, 50ms);
    REQUIRE_FALSE(slow);
    CHECK(slow.error().code == hv::Errc::timed_out);
    CHECK(guest.in(kDown) == (1u << 3));
    CHECK((*m)->block_list(*id)->size() == 2);
    // A guest that answers: the detach returns once it has ejected.
    auto waiting = std::async(std::launch::async, [&] { return (*m)->detach_device(*id, DeviceKind::disk, "51728", false, 10s); });
    CHECK(waiting.wait_for(100ms) == std::future_status::timeout);
    guest.out(kEject, 1u << 3);
    REQUIRE(waiting.wait_for(5s) == std::future_status::ready);
    CHECK(waiting.get());
    CHECK(guest.vendor(3) == 0xffff);
    CHECK(guest.in(kDown) == 0u);
    CHECK((*m)->block_list(*id)->size() == 1);

    // The PV console is not the guest's to eject.
    guest.out(kEject, 1u << 2);
    CHECK(guest.vendor(2) == 0x1af4);

    // Again into the freed slot, then removed by force: at once, and the
    // guest is told (GONE: its acpiphp checks the bus). Until it has read
    // that, the slot is not filled again.
    REQUIRE((*m)->attach_device(*id, DeviceKind::disk, extra.path + ",raw,xvdc,ro"));
    CHECK(guest.in(kUp) == (1u << 3));
    disks = (*m)->block_list(*id);
    REQUIRE(disks->size() == 2);
    CHECK((*disks)[1].guest == "vdb"); // Linux gives the first free letter
    CHECK((*disks)[1].read_only);
    REQUIRE((*m)->detach_device(*id, DeviceKind::disk, "xvdc", true, 10s));
    CHECK(guest.vendor(3) == 0xffff);
    CHECK((*m)->block_list(*id)->size() == 1);
    REQUIRE((*m)->attach_device(*id, DeviceKind::disk, extra.path + ",raw,xvdd,rw"));
    CHECK(guest.in(kUp) == (1u << 4)); // not slot 3: the guest has not read GONE yet
    CHECK(guest.in(kGone) == (1u << 3));
    CHECK(guest.in(kGone) == 0u);
    REQUIRE((*m)->detach_device(*id, DeviceKind::disk, "xvdd", true, 10s));
    CHECK(guest.in(kGone) == (1u << 4));

    // Attach and detach cycles leak nothing (files, eventfds, timers, loop watches).
    const size_t fds = hvtest::open_fds();
    for (int i = 0; i < 40; ++i) { // more than the I/O loop's watch slots would allow if they leaked
        REQUIRE((*m)->attach_device(*id, DeviceKind::disk, extra.path + ",raw,xvdb,rw"));
        REQUIRE((*m)->detach_device(*id, DeviceKind::disk, "xvdb", true, 10s));
        guest.in(kGone);
    }
    CHECK(hvtest::open_fds() == fds);

    // The boot disk is removable too (as xl block-detach can).
    auto boot_detach = std::async(std::launch::async, [&] { return (*m)->detach_device(*id, DeviceKind::disk, "xvda", false, 10s); });
    for (int i = 0; i < 500 && guest.in(kDown) == 0u; ++i) std::this_thread::sleep_for(10ms);
    guest.out(kEject, 1u << 1);
    REQUIRE(boot_detach.wait_for(5s) == std::future_status::ready);
    CHECK(boot_detach.get());
    CHECK((*m)->block_list(*id)->empty());
    REQUIRE((*m)->destroy(*id));
    CHECK_FALSE((*m)->attach_device(*id, DeviceKind::disk, extra.path + ",raw,xvdb,rw"));
}

TEST_CASE("monitor: vifs are hot-attached with their TAPs and detached, leaving none", "[monitor][fake][hotplug][net]") {
    const int rc = hvtest::in_netns([] {
        EXPECT(hvtest::make_bridge("xenbr0"));
        PortScript guest;
        auto m = open_monitor(platform_for(guest));
        EXPECT(m);
        hvbench::TempFile kernel{hvtest::without_hv_note(hvbench::pvh_elf(hvbench::first_byte_code()))};
        hv::config::DomainConfig c;
        c.name = "hotvif";
        c.kernel = kernel.path();
        c.memory_mib = 32;
        auto id = (*m)->create(c);
        EXPECT(id);
        const std::string tap0 = "vif" + std::to_string(*id) + ".0", tap1 = "vif" + std::to_string(*id) + ".1";

        // The default vif: devid 0, its TAP on xenbr0, in the lowest free slot.
        auto d0 = (*m)->attach_device(*id, DeviceKind::vif, "");
        EXPECT(d0 && *d0 == 0);
        EXPECT(std::filesystem::read_symlink("/sys/class/net/" + tap0 + "/master").filename() == "xenbr0");
        EXPECT(guest.in(kUp) == (1u << 2)); // slot 1: the console
        // A missing bridge: named, and nothing is left.
        auto bad = (*m)->attach_device(*id, DeviceKind::vif, "bridge=nosuchbr");
        EXPECT(!bad && bad.error().message.find("nosuchbr") != std::string::npos);
        EXPECT(!std::filesystem::exists("/sys/class/net/" + tap1));
        // A duplicate mac is refused by create's rule.
        auto vifs = (*m)->network_list(*id);
        EXPECT(vifs && vifs->size() == 1);
        const std::string mac0 = hv::config::mac_to_string((*vifs)[0].mac);
        auto dup = (*m)->attach_device(*id, DeviceKind::vif, "mac=" + mac0);
        EXPECT(!dup && dup.error().message.find("mac") != std::string::npos);
        // The next one is devid 1.
        auto d1 = (*m)->attach_device(*id, DeviceKind::vif, "bridge=xenbr0");
        EXPECT(d1 && *d1 == 1);
        EXPECT(std::filesystem::exists("/sys/class/net/" + tap1));
        // A guest that does not answer: the detach times out, the vif stays.
        auto slow = (*m)->detach_device(*id, DeviceKind::vif, "1", false, 50ms);
        EXPECT(!slow && slow.error().code == hv::Errc::timed_out);
        EXPECT(std::filesystem::exists("/sys/class/net/" + tap1));
        // The guest lets go of devid 1 (slot 3); devid 0 goes by force, named by its mac.
        guest.out(kEject, 1u << 3);
        EXPECT(hvtest::eventually([&] { return !std::filesystem::exists("/sys/class/net/" + tap1); }));
        EXPECT((*m)->detach_device(*id, DeviceKind::vif, mac0, true, 10s));
        EXPECT(!std::filesystem::exists("/sys/class/net/" + tap0));
        EXPECT((*m)->network_list(*id)->empty());
        EXPECT((*m)->detach_device(*id, DeviceKind::vif, "0", true, 10s).error().code == hv::Errc::not_found);
        EXPECT((*m)->destroy(*id));
        return 0;
    });
    CHECK(rc == 0);
}

TEST_CASE("monitor: a domain's disks on one device hold one slot of its share table, with its io_weight", "[monitor][fake][qos]") {
    PortScript guest;
    hv::Monitor::Options o;
    o.platform = platform_for(guest);
    o.log_level = "off";
    char dir[] = "/tmp/hv-io-share-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    o.io_share_dir = dir;
    auto m = hv::Monitor::open(o);
    REQUIRE(m);
    hvbench::TempFile kernel{hvtest::without_hv_note(hvbench::pvh_elf(hvbench::first_byte_code()))};
    TempDisk a1("w1"), a2("w2"), b1("w3"), b2("w4");
    struct stat st {};
    REQUIRE(::stat(a1.path.c_str(), &st) == 0);
    const uint64_t device = hv::dev::IoShare::device_of(st);
    const auto make = [&](const char* name, uint32_t weight, std::vector<std::string> disks) {
        hv::config::DomainConfig c;
        c.name = name;
        c.kernel = kernel.path();
        c.memory_mib = 32;
        c.io_weight = weight;
        for (const std::string& d : disks) c.disks.push_back(*hv::config::parse_disk_spec(d));
        return (*m)->create(c);
    };
    auto a = make("heavy", 300, {a1.path + ",raw,xvda,rw", a2.path + ",raw,xvdb,rw"});
    REQUIRE(a);
    CHECK(share_weights(dir, device) == std::multiset<uint32_t>{300});
    auto b = make("light", 100, {b1.path + ",raw,xvda,rw"});
    REQUIRE(b);
    CHECK(share_weights(dir, device) == std::multiset<uint32_t>{100, 300});
    // A hot-attached disk on the same device joins its domain's slot.
    REQUIRE((*m)->attach_device(*b, DeviceKind::disk, b2.path + ",raw,xvdb,rw"));
    CHECK(share_weights(dir, device) == std::multiset<uint32_t>{100, 300});
    REQUIRE((*m)->destroy(*a));
    CHECK(share_weights(dir, device) == std::multiset<uint32_t>{100});
    REQUIRE((*m)->destroy(*b));
    CHECK(share_weights(dir, device).empty());
    m->reset();
    std::filesystem::remove_all(dir);
}
