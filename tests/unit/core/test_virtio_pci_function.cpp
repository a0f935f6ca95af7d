// core::virtio::PciFunction, the virtio 1.x PCI transport, driven the way
// Linux's virtio_pci_modern drives it: find the capabilities in config
// space, negotiate features through the common configuration, set up
// queues, kick them through the notify area and take interrupts through
// MSI-X. The device model behind it is a fake that records what the
// transport asked of it; guest RAM and the driver's rings come from
// VirtqDriver.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

#include "core/virtio/pci_function.hpp"
#include "virtio_pci_driver.hpp"
#include "virtq_driver.hpp"

using namespace hv::core::virtio;
using namespace hvtest;

namespace {

// Device-specific feature bits the fake offers (virtio-blk's BLK_SIZE and FLUSH).
constexpr uint64_t kDevFeatures = (1ull << 6) | (1ull << 9);
constexpr uint64_t kBarGpa = 0xfe000000;

class FakeDevice final : public VirtioDevice {
public:
    explicit FakeDevice(uint32_t queues = 2, uint32_t cfg_size = 8) : queues_(queues), cfg_size_(cfg_size) {}

    uint16_t device_type() const override { return 2; }
    uint64_t features() const override { return kDevFeatures; }
    uint32_t queue_count() const override { return queues_; }
    uint16_t queue_max_size() const override { return 8; }
    uint32_t config_size() const override { return cfg_size_; }
    void read_config(uint32_t offset, uint8_t* data, uint32_t len) override {
        REQUIRE(offset + len <= sizeof config); // the transport's promise
        std::memcpy(data, config + offset, len);
    }
    void write_config(uint32_t offset, const uint8_t* data, uint32_t len) override {
        REQUIRE(offset + len <= sizeof config);
        std::memcpy(config + offset, data, len);
    }
    void activate(uint64_t features) override { activated.push_back(features); }
    void reset() override { ++resets; }
    // Like a real device model: takes every available chain, returns each
    // with nothing written and tells the transport, which may interrupt.
    // Host-side work: whatever the test wants done with the queues.
    // Called whatever the state; a device works only while the driver
    // runs it (what `polls` counts), as the device models do.
    void poll(Queues& queues) override {
        if (!queues.running()) return;
        ++polls;
        if (on_poll) on_poll(queues);
    }
    void notify(Queues& queues, uint32_t q) override {
        notified.push_back(q);
        SplitQueue* sq = queues.queue(q);
        if (sq == nullptr) return;
        Segment segs[8];
        Chain chain;
        bool any = false;
        while (sq->pop(segs, 8, chain)) any = sq->push(chain.head, 0) || any;
        if (any) queues.used(q);
    }

    uint8_t config[8] = {0x00, 0x10, 0, 0, 0, 0, 0, 0}; // capacity 4096 sectors, say
    std::vector<uint64_t> activated;
    std::vector<uint32_t> notified;
    int resets = 0;
    int polls = 0;
    std::function<void(Queues&)> on_poll;

private:
    uint32_t queues_;
    uint32_t cfg_size_;
};

class FakeSink final : public InterruptSink {
public:
    void msi(uint64_t address, uint32_t data) override { sent.emplace_back(address, data); }
    std::vector<std::pair<uint64_t, uint32_t>> sent;
};

// One function with its device, interrupt sink and a driver's RAM; the
// driver's accesses go straight to the function.
struct Rig final : VirtioPciDriver {
    explicit Rig(uint32_t queues = 2) : dev(queues) {
        // SplitQueue wants RAM mapped 16-byte aligned, as the monitor maps it.
        REQUIRE(reinterpret_cast<uintptr_t>(drv.mem.data()) % 16 == 0);
    }

    uint64_t read(uint32_t offset, uint8_t size) override {
        uint8_t b[8] = {};
        fn.bar_read(offset, b, size);
        return load(b, size);
    }
    void write(uint32_t offset, uint64_t value, uint8_t size) override {
        uint8_t b[8];
        store(value, b);
        fn.bar_write(offset, b, size);
    }
    void config_write(uint32_t offset, uint32_t value, uint8_t size) override { fn.config_write(offset, value, size); }
    // What Linux does before it uses the device: VERSION_1 only, queue 0, DRIVER_OK.
    void start() { REQUIRE(VirtioPciDriver::start(1)); }
    // Queue 0 gets one chain (a readable and a writable buffer) and a kick.
    void kick_with_chain() {
        drv.desc(0, VirtqDriver::kBuf, 16, kDescNext, 1);
        drv.desc(1, VirtqDriver::kBuf + 0x100, 1, kDescWrite);
        drv.offer(0);
        write(kNotifyOffset, 0, 2);
    }

    // The MSI-X capability's offset in config space (0: none).
    uint8_t msix_cap() const {
        for (uint8_t at : caps())
            if (fn.config_read(at, 1) == hv::core::pci::kCapMsix) return at;
        return 0;
    }
    std::vector<uint8_t> caps() const {
        std::vector<uint8_t> out;
        uint8_t at = static_cast<uint8_t>(fn.config_read(0x34, 1));
        while (at != 0 && out.size() < 48) {
            out.push_back(at);
            at = static_cast<uint8_t>(fn.config_read(at + 1u, 1));
        }
        return out;
    }
    void msix_control(uint16_t value) { fn.config_write(msix_cap() + 2u, value, 2); }
    // MSI-X table entry v: message address, data, vector control (bit 0: masked).
    void msix_entry(uint32_t v, uint64_t address, uint32_t data, bool masked) {
        const uint32_t e = kMsixTableOffset + 16 * v;
        write(e, static_cast<uint32_t>(address), 4);
        write(e + 4, address >> 32, 4);
        write(e + 8, data, 4);
        write(e + 12, masked ? 1 : 0, 4);
    }
    void msix_mask(uint32_t v, bool masked) { write(kMsixTableOffset + 16 * v + 12, masked ? 1 : 0, 4); }
    uint64_t pba() { return read(kMsixPbaOffset, 8); }
    // Runs `f` with the Queues the transport gives its device model, the
    // way a device's host side reaches them (poll() while it runs).
    void with_queues(const std::function<void(Queues&)>& f) {
        const int before = dev.polls;
        dev.on_poll = f;
        fn.poll();
        dev.on_poll = nullptr;
        REQUIRE(dev.polls == before + 1); // only while the device runs
    }

    VirtqDriver drv{8};
    FakeDevice dev;
    FakeSink irq;
    PciFunction fn{dev, drv.ram(), irq, kBarGpa};
};

} // namespace

TEST_CASE("virtio-pci: the function is valid only for what the transport can carry", "[virtio]") {
    VirtqDriver d(8);
    FakeSink irq;
    FakeDevice two(2), none(0), too_many(kMaxQueues + 1), most(kMaxQueues), big_config(1, 0x1001);
    CHECK(PciFunction(two, d.ram(), irq, kBarGpa).valid());
    CHECK(PciFunction(most, d.ram(), irq, kBarGpa).valid());
    CHECK_FALSE(PciFunction(none, d.ram(), irq, kBarGpa).valid());
    CHECK_FALSE(PciFunction(too_many, d.ram(), irq, kBarGpa).valid());
    CHECK_FALSE(PciFunction(big_config, d.ram(), irq, kBarGpa).valid()); // past the notify area
    CHECK_FALSE(PciFunction(two, d.ram(), irq, kBarGpa + 0x1000).valid()); // BAR not aligned to its size
}

TEST_CASE("virtio-pci: identity, BAR and memory decoding", "[virtio][pci]") {
    Rig r;
    REQUIRE(r.fn.valid());
    CHECK(r.fn.config_read(0x00, 2) == kPciVendor);
    CHECK(r.fn.config_read(0x02, 2) == 0x1040u + 2); // modern device ID: 0x1040 + type
    CHECK(r.fn.config_read(0x08, 1) >= 1);           // revision 1 or more for modern-only devices
    CHECK(r.fn.config_read(0x2e, 2) >= 0x40);        // subsystem ID, likewise
    CHECK(r.fn.config_read(0x3d, 1) == 0);           // no INTx pin
    CHECK(r.fn.config().bar_size(0) == kBarSize);
    // The BAR reads its address, 64-bit, yet the function decodes nothing
    // until the driver turns memory space on.
    CHECK(r.fn.config_read(0x10, 4) == (kBarGpa | 0x4));
    CHECK(r.fn.bar_address() == 0);
    r.fn.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory, 2);
    CHECK(r.fn.bar_address() == kBarGpa);
    // Sizing through the function's own config_write, then a move.
    r.fn.config_write(0x10, 0xffffffff, 4);
    r.fn.config_write(0x14, 0xffffffff, 4);
    CHECK(r.fn.config_read(0x10, 4) == ((~static_cast<uint32_t>(kBarSize - 1) & ~0xfu) | 0x4));
    r.fn.config_write(0x10, 0xc0000000, 4);
    r.fn.config_write(0x14, 0x2, 4);
    CHECK(r.fn.bar_address() == 0x2c0000000ull);
    r.fn.config_write(hv::core::pci::kCommand, 0, 2);
    CHECK(r.fn.bar_address() == 0);
}

TEST_CASE("virtio-pci: the capability list names each region of BAR0 and MSI-X", "[virtio][pci]") {
    Rig r;
    struct Want {
        uint8_t type;
        uint32_t offset, length;
        bool seen;
    } want[] = {{1, kCommonOffset, 0x38, false},
                {2, kNotifyOffset, 2 * kNotifyMultiplier, false},
                {3, kIsrOffset, 1, false},
                {4, kDeviceOffset, 8, false}};
    bool msix_seen = false;
    CHECK((r.fn.config_read(0x06, 2) & (1u << 4)) != 0); // status: capability list
    for (uint8_t at : r.caps()) {
        const uint32_t id = r.fn.config_read(at, 1);
        if (id == hv::core::pci::kCapMsix) {
            msix_seen = true;
            // Table size N - 1 in bits 10:0: one vector per queue and one for config.
            CHECK((r.fn.config_read(at + 2u, 2) & 0x7ff) == 2);
            CHECK(r.fn.config_read(at + 4u, 4) == (kMsixTableOffset | 0)); // BIR 0
            CHECK(r.fn.config_read(at + 8u, 4) == (kMsixPbaOffset | 0));
            continue;
        }
        REQUIRE(id == hv::core::pci::kCapVendor);
        // struct virtio_pci_cap: cap_len, cfg_type, bar, id, padding, offset, length.
        const uint32_t type = r.fn.config_read(at + 3u, 1);
        REQUIRE(type >= 1);
        REQUIRE(type <= 4);
        Want& w = want[type - 1];
        CHECK_FALSE(w.seen);
        w.seen = true;
        CHECK(r.fn.config_read(at + 4u, 1) == 0); // BAR0
        CHECK(r.fn.config_read(at + 8u, 4) == w.offset);
        // Lengths at least what a driver maps (Linux refuses shorter ones).
        CHECK(r.fn.config_read(at + 12u, 4) >= w.length);
        if (type == 2) {
            CHECK(r.fn.config_read(at + 2u, 1) == 20); // struct virtio_pci_notify_cap
            CHECK(r.fn.config_read(at + 16u, 4) == kNotifyMultiplier);
        } else {
            CHECK(r.fn.config_read(at + 2u, 1) == 16);
        }
        // Every region lies inside the BAR.
        CHECK(uint64_t{r.fn.config_read(at + 8u, 4)} + r.fn.config_read(at + 12u, 4) <= kBarSize);
    }
    for (const Want& w : want) CHECK(w.seen);
    CHECK(msix_seen);
    CHECK(r.msix_cap() != 0);
}

TEST_CASE("virtio-pci: device features include the transport's bits and the device's", "[virtio]") {
    Rig r;
    r.write(kDeviceFeatureSelect, 0, 4);
    const uint64_t lo = r.read(kDeviceFeature, 4);
    r.write(kDeviceFeatureSelect, 1, 4);
    const uint64_t hi = r.read(kDeviceFeature, 4);
    CHECK(r.read(kDeviceFeatureSelect, 4) == 1);
    const uint64_t offered = lo | (hi << 32);
    CHECK((offered & kFVersion1) != 0);
    CHECK((offered & kFEventIdx) != 0);
    CHECK((offered & kFIndirectDesc) != 0);
    CHECK((offered & kDevFeatures) == kDevFeatures);
    CHECK(offered == (kDevFeatures | kFVersion1 | kFEventIdx | kFIndirectDesc));
    // Past the two words there is nothing.
    r.write(kDeviceFeatureSelect, 2, 4);
    CHECK(r.read(kDeviceFeature, 4) == 0);
    CHECK(r.read(kNumQueues, 2) == 2);
    // The feature word is the device's: a write changes nothing.
    r.write(kDeviceFeatureSelect, 0, 4);
    r.write(kDeviceFeature, 0, 4);
    CHECK(r.read(kDeviceFeature, 4) == lo);
}

TEST_CASE("virtio-pci: FEATURES_OK sticks only for offered features with VERSION_1", "[virtio]") {
    SECTION("a feature not offered") {
        Rig r;
        CHECK_FALSE(r.negotiate(kFVersion1 | 1)); // bit 0 is not offered
        CHECK((r.status() & (kStatusAcknowledge | kStatusDriver)) == (kStatusAcknowledge | kStatusDriver));
    }
    SECTION("a high feature not offered") {
        Rig r;
        CHECK_FALSE(r.negotiate(kFVersion1 | (1ull << 33)));
    }
    SECTION("without VERSION_1") {
        Rig r;
        CHECK_FALSE(r.negotiate(kDevFeatures | kFEventIdx));
        CHECK_FALSE(r.negotiate(0));
        // DRIVER_OK without FEATURES_OK does not stick either, and the
        // device is not started.
        r.add_status(kStatusDriverOk);
        CHECK((r.status() & kStatusDriverOk) == 0);
        CHECK(r.dev.activated.empty());
    }
    SECTION("offered features with VERSION_1") {
        Rig r;
        const uint64_t f = kFVersion1 | kFEventIdx | kFIndirectDesc | (1ull << 9);
        REQUIRE(r.negotiate(f));
        CHECK(r.fn.driver_features() == f);
        // The driver reads its features back through driver_feature_select.
        r.write(kDriverFeatureSelect, 0, 4);
        CHECK(r.read(kDriverFeature, 4) == static_cast<uint32_t>(f));
        r.write(kDriverFeatureSelect, 1, 4);
        CHECK(r.read(kDriverFeature, 4) == (f >> 32));
        // After FEATURES_OK the features are fixed.
        r.write(kDriverFeatureSelect, 0, 4);
        r.write(kDriverFeature, 0, 4);
        CHECK(r.fn.driver_features() == f);
        CHECK(r.dev.activated.empty());
        r.add_status(kStatusDriverOk);
        CHECK((r.status() & kStatusDriverOk) != 0);
        REQUIRE(r.dev.activated.size() == 1);
        CHECK(r.dev.activated[0] == f);
    }
    SECTION("the driver cannot set DEVICE_NEEDS_RESET, nor clear bits but by reset") {
        Rig r;
        REQUIRE(r.negotiate(kFVersion1));
        r.write(kDeviceStatus, kStatusNeedsReset | kStatusAcknowledge, 1);
        CHECK((r.status() & kStatusNeedsReset) == 0);
        CHECK((r.status() & kStatusFeaturesOk) != 0);
    }
}

TEST_CASE("virtio-pci: kicks and host-side work need Bus Master enabled", "[virtio]") {
    Rig before;
    // Bus Master on before DRIVER_OK (as Linux's probe does): not running yet.
    CHECK(!before.fn.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory | hv::core::pci::kCommandBusMaster, 2));
    Rig r;
    r.start();
    const size_t kicks = r.dev.notified.size();
    CHECK(!r.fn.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory, 2)); // bus master off
    r.write(kNotifyOffset, 0, 2);
    const int polls = r.dev.polls;
    r.fn.poll();
    CHECK(r.dev.notified.size() == kicks);
    CHECK(r.dev.polls == polls);
    // Back on: the transport is told to look at the queues (the driver
    // may send no kick); set again, or set while not running, it is not.
    CHECK(r.fn.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory | hv::core::pci::kCommandBusMaster, 2));
    CHECK(!r.fn.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory | hv::core::pci::kCommandBusMaster, 2));
    r.write(kNotifyOffset, 0, 2);
    r.fn.poll();
    CHECK(r.dev.notified.size() == kicks + 1);
    CHECK(r.dev.polls == polls + 1);
}

TEST_CASE("virtio-pci: writing status 0 resets the function", "[virtio]") {
    Rig r;
    r.start();
    const uint64_t gen = r.read(kConfigGeneration, 1);
    r.msix_control(0x8000);
    r.msix_entry(0, 0xfee00000, 0x41, false);
    r.msix_entry(2, 0xfee00000, 0x42, false);
    r.write(kQueueSelect, 0, 2);
    r.write(kQueueMsixVector, 0, 2);
    r.write(kConfigMsixVector, 2, 2);
    REQUIRE(r.read(kQueueMsixVector, 2) == 0);
    REQUIRE(r.read(kConfigMsixVector, 2) == 2);
    REQUIRE(r.dev.resets == 0);

    r.write(kDeviceStatus, 0, 1);
    CHECK(r.dev.resets == 1); // it was DRIVER_OK: the device forgets
    CHECK(r.status() == 0);
    CHECK(r.fn.driver_features() == 0);
    CHECK(r.read(kConfigGeneration, 1) != gen);
    CHECK(r.read(kConfigMsixVector, 2) == kNoVector);
    CHECK(r.read(kQueueSelect, 2) == 0);
    for (uint16_t q = 0; q < 2; ++q) {
        r.write(kQueueSelect, q, 2);
        CHECK(r.read(kQueueSize, 2) == 8); // the device's maximum again
        CHECK(r.read(kQueueMsixVector, 2) == kNoVector);
        CHECK(r.read(kQueueEnable, 2) == 0);
        CHECK(r.read(kQueueDesc, 8) == 0);
        CHECK(r.read(kQueueDriver, 8) == 0);
        CHECK(r.read(kQueueDevice, 8) == 0);
    }
    // The device is not running: no host-side work reaches it.
    const int polls = r.dev.polls;
    r.fn.poll();
    CHECK(r.dev.polls == polls);
    // The MSI-X table is the PCI function's: a virtio reset keeps it (the
    // driver's vectors stay as it wrote them; an unused one stays masked).
    CHECK(r.read(kMsixTableOffset + 0 * 16 + 8, 4) == 0x41);
    CHECK((r.read(kMsixTableOffset + 0 * 16 + 12, 4) & 1) == 0);
    CHECK(r.read(kMsixTableOffset + 2 * 16 + 8, 4) == 0x42);
    CHECK((r.read(kMsixTableOffset + 1 * 16 + 12, 4) & 1) == 1);

    // A reset of a device that never reached DRIVER_OK does not bother it.
    REQUIRE(r.negotiate(kFVersion1));
    r.write(kDeviceStatus, 0, 1);
    CHECK(r.dev.resets == 1);
    CHECK(r.status() == 0);
    // And the function comes up again as before.
    r.start();
    CHECK(r.dev.activated.size() == 2);
}

TEST_CASE("virtio-pci: queue setup through the common configuration", "[virtio]") {
    Rig r;
    REQUIRE(r.negotiate(kFVersion1));
    r.write(kQueueSelect, 0, 2);
    CHECK(r.read(kQueueSize, 2) == 8);
    CHECK(r.read(kQueueEnable, 2) == 0);
    CHECK(r.read(kQueueMsixVector, 2) == kNoVector);
    CHECK(r.read(kQueueNotifyOff, 2) == 0);
    // 64-bit addresses as two 32-bit writes, read back either way.
    r.write(kQueueDesc, 0x1000, 4);
    r.write(kQueueDesc + 4, 0x1, 4);
    CHECK(r.read(kQueueDesc, 4) == 0x1000);
    CHECK(r.read(kQueueDesc + 4, 4) == 0x1);
    CHECK(r.read(kQueueDesc, 8) == 0x100001000ull);
    r.write(kQueueDesc + 4, 0, 4);
    r.write(kQueueDriver, VirtqDriver::kAvail, 4);
    r.write(kQueueDevice, VirtqDriver::kUsed, 4);
    CHECK(r.read(kQueueDesc, 8) == VirtqDriver::kDesc);
    CHECK(r.read(kQueueDriver, 4) == VirtqDriver::kAvail);
    CHECK(r.read(kQueueDevice, 4) == VirtqDriver::kUsed);
    r.write(kQueueEnable, 1, 2);
    CHECK(r.read(kQueueEnable, 2) == 1);
    CHECK((r.status() & kStatusNeedsReset) == 0);

    // An enabled queue's registers are fixed.
    r.write(kQueueSize, 4, 2);
    r.write(kQueueDesc, 0x2000, 4);
    CHECK(r.read(kQueueSize, 2) == 8);
    CHECK(r.read(kQueueDesc, 4) == VirtqDriver::kDesc);

    // Queue 1, smaller than the maximum, notified at its own offset.
    r.write(kQueueSelect, 1, 2);
    CHECK(r.read(kQueueNotifyOff, 2) == 1);
    r.setup_queue(1, 4);
    CHECK(r.read(kQueueSize, 2) == 4);
    CHECK(r.read(kQueueEnable, 2) == 1);

    // A queue the device does not have: reads as absent, ignores writes.
    r.write(kQueueSelect, 2, 2);
    CHECK(r.read(kQueueSize, 2) == 0);
    r.write(kQueueSize, 8, 2);
    r.write(kQueueEnable, 1, 2);
    CHECK(r.read(kQueueSize, 2) == 0);
    CHECK(r.read(kQueueEnable, 2) == 0);
    CHECK((r.status() & kStatusNeedsReset) == 0);

    // Once running, the device model finds exactly the enabled queues,
    // with the sizes the driver chose.
    r.add_status(kStatusDriverOk);
    r.with_queues([](Queues& qs) {
        REQUIRE(qs.queue(0) != nullptr);
        CHECK(qs.queue(0)->ready());
        CHECK(qs.queue(0)->size() == 8);
        REQUIRE(qs.queue(1) != nullptr);
        CHECK(qs.queue(1)->size() == 4);
        CHECK(qs.queue(2) == nullptr);
        CHECK(qs.queue(kMaxQueues) == nullptr);
    });
}

TEST_CASE("virtio-pci: a bad queue layout sets DEVICE_NEEDS_RESET", "[virtio]") {
    struct Bad {
        const char* what;
        uint16_t size;
        uint64_t desc;
    };
    const Bad bad[] = {
        {"descriptors outside RAM", 8, 1ull << 20},
        {"descriptors far outside RAM", 8, 1ull << 40},
        {"size not a power of two", 6, VirtqDriver::kDesc},
        {"size past the device's maximum", 16, VirtqDriver::kDesc},
        {"size 0", 0, VirtqDriver::kDesc},
        {"descriptors misaligned", 8, VirtqDriver::kDesc + 8},
    };
    for (const Bad& b : bad) {
        INFO(b.what);
        Rig r;
        REQUIRE(r.negotiate(kFVersion1));
        r.setup_queue(0, b.size, b.desc);
        CHECK((r.status() & kStatusNeedsReset) != 0);
        CHECK(r.read(kQueueEnable, 2) == 0);
        // Only a reset clears it.
        r.write(kDeviceStatus, r.status() | kStatusDriver, 1);
        CHECK((r.status() & kStatusNeedsReset) != 0);
        r.write(kDeviceStatus, 0, 1);
        CHECK(r.status() == 0);
    }
}

TEST_CASE("virtio-pci: kicks reach the device only after DRIVER_OK, for enabled queues", "[virtio]") {
    Rig r;
    REQUIRE(r.negotiate(kFVersion1));
    r.setup_queue(0);
    r.write(kNotifyOffset, 0, 2);
    CHECK(r.dev.notified.empty()); // not DRIVER_OK yet
    r.add_status(kStatusDriverOk);
    r.write(kNotifyOffset, 0, 2);
    CHECK(r.dev.notified == std::vector<uint32_t>{0});
    r.write(kNotifyOffset + 4, 1, 2); // queue 1 exists but is not enabled
    r.write(kNotifyOffset + 8, 2, 2); // no queue 2
    r.write(kNotifyOffset + 4 * kMaxQueues, 0, 2);
    CHECK(r.dev.notified == std::vector<uint32_t>{0});
    // A 32-bit kick works as well as Linux's 16-bit one.
    r.write(kNotifyOffset, 0, 4);
    CHECK(r.dev.notified == std::vector<uint32_t>{0, 0});
    // A device that needs a reset takes no more kicks.
    r.with_queues([](Queues& qs) { qs.needs_reset(); });
    CHECK((r.status() & kStatusNeedsReset) != 0);
    r.write(kNotifyOffset, 0, 2);
    CHECK(r.dev.notified.size() == 2);
    // Reset: kicks stop until the driver is back.
    r.write(kDeviceStatus, 0, 1);
    r.write(kNotifyOffset, 0, 2);
    CHECK(r.dev.notified.size() == 2);
}

TEST_CASE("virtio-pci: notify_queue_at maps the notify area to queues; notify() obeys the same rules as a kick", "[virtio]") {
    Rig r;
    CHECK(r.fn.queue_count() == 2);
    CHECK(r.fn.notify_queue_at(kNotifyOffset) == 0);
    CHECK(r.fn.notify_queue_at(kNotifyOffset + 2) == 0);
    CHECK(r.fn.notify_queue_at(kNotifyOffset + 4) == 1);
    CHECK(r.fn.notify_queue_at(kNotifyOffset + 8) == -1); // no queue 2
    CHECK(r.fn.notify_queue_at(kNotifyOffset - 1) == -1);
    CHECK(r.fn.notify_queue_at(0) == -1);
    r.fn.notify(0);
    CHECK(r.dev.notified.empty()); // not running yet
    r.start();
    const size_t kicks = r.dev.notified.size();
    r.fn.notify(0);
    r.fn.notify(1); // not enabled
    r.fn.notify(7); // no such queue
    r.fn.notify(UINT32_MAX);
    CHECK(r.dev.notified.size() == kicks + 1);
    CHECK(r.dev.notified.back() == 0);
}

TEST_CASE("virtio-pci: device configuration through BAR0 + 0x2000", "[virtio]") {
    Rig r;
    CHECK(r.read(kDeviceOffset, 4) == 0x1000);
    CHECK(r.read(kDeviceOffset, 8) == 0x1000);
    r.write(kDeviceOffset + 4, 0xabcd, 2);
    CHECK(r.dev.config[4] == 0xcd);
    CHECK(r.dev.config[5] == 0xab);
    // Past the device's 8 bytes: nothing, and the device is not asked.
    CHECK(r.read(kDeviceOffset + 8, 4) == 0);
    CHECK(r.read(kDeviceOffset + 6, 4) == 0);
    r.write(kDeviceOffset + 6, 0xffffffff, 4);
    CHECK(r.dev.config[6] == 0);
}

TEST_CASE("virtio-pci: without MSI-X a used buffer only sets the ISR", "[virtio]") {
    Rig r;
    r.start();
    r.kick_with_chain();
    CHECK(r.dev.notified == std::vector<uint32_t>{0});
    CHECK(r.drv.used_idx() == 1);
    CHECK(r.irq.sent.empty());
    CHECK(r.read(kIsrOffset, 1) == 1); // queue interrupt
    CHECK(r.read(kIsrOffset, 1) == 0); // reading cleared it
}

TEST_CASE("virtio-pci: MSI-X delivers from the table, holds while masked", "[virtio]") {
    Rig r;
    r.start();
    r.msix_control(0x8000); // MSI-X enable
    REQUIRE((r.fn.config_read(r.msix_cap() + 2u, 2) & 0x8000) != 0);
    r.write(kQueueSelect, 0, 2);
    r.write(kQueueMsixVector, 1, 2);
    REQUIRE(r.read(kQueueMsixVector, 2) == 1);
    r.msix_entry(1, 0x1fee01000ull, 0x4041, false);
    CHECK(r.read(kMsixTableOffset + 16, 8) == 0x1fee01000ull);
    CHECK(r.read(kMsixTableOffset + 24, 4) == 0x4041);

    SECTION("an unmasked entry: at once") {
        r.kick_with_chain();
        CHECK(r.drv.used_idx() == 1);
        REQUIRE(r.irq.sent.size() == 1);
        CHECK(r.irq.sent[0] == std::make_pair(uint64_t{0x1fee01000}, uint32_t{0x4041}));
        CHECK(r.pba() == 0);
        CHECK(r.read(kIsrOffset, 1) == 0); // MSI-X: the ISR is not used
    }
    SECTION("a masked entry: pending, then sent when unmasked") {
        r.msix_mask(1, true);
        r.kick_with_chain();
        CHECK(r.irq.sent.empty());
        CHECK(r.pba() == 0x2);
        CHECK(r.read(kMsixPbaOffset, 4) == 0x2);
        // The driver may change the message while masked: the new one goes.
        r.write(kMsixTableOffset + 16 + 8, 0x4042, 4);
        CHECK(r.irq.sent.empty());
        r.msix_mask(1, false);
        REQUIRE(r.irq.sent.size() == 1);
        CHECK(r.irq.sent[0] == std::make_pair(uint64_t{0x1fee01000}, uint32_t{0x4042}));
        CHECK(r.pba() == 0);
        // Once only.
        r.msix_mask(1, true);
        r.msix_mask(1, false);
        CHECK(r.irq.sent.size() == 1);
    }
    SECTION("the function mask: pending, then sent when cleared") {
        r.msix_control(0xc000); // enable + function mask
        r.kick_with_chain();
        CHECK(r.irq.sent.empty());
        CHECK(r.pba() == 0x2);
        r.msix_control(0x8000);
        REQUIRE(r.irq.sent.size() == 1);
        CHECK(r.irq.sent[0] == std::make_pair(uint64_t{0x1fee01000}, uint32_t{0x4041}));
        CHECK(r.pba() == 0);
    }
    SECTION("no vector: no interrupt") {
        r.write(kQueueMsixVector, kNoVector, 2);
        r.kick_with_chain();
        CHECK(r.drv.used_idx() == 1);
        CHECK(r.irq.sent.empty());
        CHECK(r.pba() == 0);
    }
}

TEST_CASE("virtio-pci: MSI-X vectors past the table read back NO_VECTOR", "[virtio]") {
    Rig r;
    r.write(kQueueSelect, 0, 2);
    r.write(kQueueMsixVector, 2, 2); // the last entry: queues + 1 = 3 of them
    CHECK(r.read(kQueueMsixVector, 2) == 2);
    r.write(kQueueMsixVector, 3, 2);
    CHECK(r.read(kQueueMsixVector, 2) == kNoVector);
    r.write(kQueueMsixVector, 0x7ff, 2);
    CHECK(r.read(kQueueMsixVector, 2) == kNoVector);
    r.write(kConfigMsixVector, 2, 2);
    CHECK(r.read(kConfigMsixVector, 2) == 2);
    r.write(kConfigMsixVector, 3, 2);
    CHECK(r.read(kConfigMsixVector, 2) == kNoVector);
    // The table itself ends there: entry 3 reads 0 and takes no writes.
    r.msix_entry(3, 0xfee00000, 0x55, false);
    CHECK(r.read(kMsixTableOffset + 48, 8) == 0);
    CHECK(r.read(kMsixTableOffset + 48 + 12, 4) == 0);
    // Entries start masked (PCI 3.0 6.8.2.9).
    for (uint32_t v = 0; v < 3; ++v) CHECK(r.read(kMsixTableOffset + 16 * v + 12, 4) == 1);
}

TEST_CASE("virtio-pci: a broken queue after DRIVER_OK raises a config interrupt", "[virtio]") {
    Rig r;
    r.start();
    r.msix_control(0x8000);
    r.write(kConfigMsixVector, 2, 2);
    r.msix_entry(2, 0xfee00000, 0x4050, false);
    // A descriptor past RAM: the device's pop() breaks the queue, and the
    // device model reports it.
    r.drv.desc(0, 1ull << 30, 16, 0);
    r.drv.offer(0);
    r.with_queues([](Queues& qs) {
        Segment segs[4];
        Chain chain;
        SplitQueue* q = qs.queue(0);
        REQUIRE(q != nullptr);
        CHECK_FALSE(q->pop(segs, 4, chain));
        CHECK(q->error() == QueueError::buffer_out_of_ram);
        qs.needs_reset();
        qs.needs_reset(); // said once, below
    });
    CHECK((r.status() & kStatusNeedsReset) != 0);
    REQUIRE(r.irq.sent.size() == 1);
    CHECK(r.irq.sent[0] == std::make_pair(uint64_t{0xfee00000}, uint32_t{0x4050}));
    // A device that needs a reset gets no host-side work either.
    const int polls = r.dev.polls;
    r.fn.poll();
    CHECK(r.dev.polls == polls);
}

TEST_CASE("virtio-pci: host-side work reaches the device only while it runs", "[virtio]") {
    Rig r;
    r.fn.poll();
    CHECK(r.dev.polls == 0); // not even negotiated
    REQUIRE(r.negotiate(kFVersion1));
    r.setup_queue(0);
    r.fn.poll();
    CHECK(r.dev.polls == 0); // FEATURES_OK but not DRIVER_OK
    r.add_status(kStatusDriverOk);
    r.fn.poll();
    CHECK(r.dev.polls == 1);
    // A completion found at poll time interrupts like one found at a kick.
    r.msix_control(0x8000);
    r.write(kQueueSelect, 0, 2);
    r.write(kQueueMsixVector, 0, 2);
    r.msix_entry(0, 0xfee00000, 0x4060, false);
    r.drv.desc(0, VirtqDriver::kBuf, 1, kDescWrite);
    r.drv.offer(0);
    r.with_queues([](Queues& qs) {
        SplitQueue* q = qs.queue(0);
        REQUIRE(q != nullptr);
        Segment segs[2];
        Chain chain;
        REQUIRE(q->pop(segs, 2, chain));
        REQUIRE(q->push(chain.head, 1));
        qs.used(0);
    });
    CHECK(r.drv.used_idx() == 1);
    REQUIRE(r.irq.sent.size() == 1);
    CHECK(r.irq.sent[0] == std::make_pair(uint64_t{0xfee00000}, uint32_t{0x4060}));
    CHECK(r.dev.notified.empty()); // no kick was involved
}
