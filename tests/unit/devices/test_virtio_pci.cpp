// dev::VirtioPci, the hosted side of the virtio PCI transport: a driver's
// accesses arrive as MMIO and config-space writes (as the vCPUs pass them
// on), and the device's queues are served on an IoLoop. What only this
// layer does: kicks reach the device through eventfds (the platform's
// notifiers, or mmio() when there are none), and Bus Master turned back on
// with the driver running has every queue looked at, since the driver,
// whose kicks the device may have turned off, sends none.
#include <catch2/catch.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../core/virtio_pci_driver.hpp"
#include "../core/virtq_driver.hpp"
#include "devices/io_loop.hpp"
#include "devices/virtio/virtio_pci.hpp"
#include "platform/vm.hpp"

namespace cv = hv::core::virtio;
using namespace hvtest;

namespace {

constexpr uint64_t kBar = 0xfe000000;

// A platform with RAM and, when asked, MMIO notifiers (KVM's ioeventfds):
// the test plays KVM and writes the eventfd a notifier names.
class TestVm final : public hv::platform::Vm {
public:
    TestVm(VirtqDriver& drv, bool notifiers) : ram_(drv.ram()), notifiers_(notifiers) {}
    const hv::core::GuestRam& ram() const override { return ram_; }
    hv::Result<std::unique_ptr<hv::platform::Vcpu>> create_vcpu(uint32_t) override {
        return hv::make_error(hv::Errc::not_supported, "no vCPUs here");
    }
    hv::Result<void> add_pc_interrupts() override { return {}; }
    hv::Result<void> set_irq_line(uint32_t, bool) override { return {}; }
    hv::Result<void> signal_msi(uint64_t, uint32_t) override { return {}; }
    hv::Result<void> set_mmio_notifier(uint64_t gpa, int eventfd, bool on) override {
        if (!notifiers_) return Vm::set_mmio_notifier(gpa, eventfd, on);
        std::lock_guard lock(mu_);
        if (on) notifier_[gpa] = eventfd;
        else notifier_.erase(gpa);
        return {};
    }
    // A guest write at `gpa` that a notifier catches; false if none does.
    bool notify(uint64_t gpa) {
        std::lock_guard lock(mu_);
        const auto it = notifier_.find(gpa);
        if (it == notifier_.end()) return false;
        const uint64_t one = 1;
        return ::write(it->second, &one, sizeof one) == sizeof one;
    }

private:
    hv::core::GuestRam ram_;
    bool notifiers_;
    std::mutex mu_;
    std::map<uint64_t, int> notifier_;
};

// Two queues; records the queues the transport hands it kicks for. With
// `share_of_one` it serves one chain per call and says so (resume), as a
// device with a bounded share per call does; else it takes nothing, as a
// receive queue with nothing to put in the driver's buffers.
class KickedDevice final : public cv::VirtioDevice {
public:
    explicit KickedDevice(bool share_of_one = false) : share_of_one_(share_of_one) {}
    uint16_t device_type() const override { return 3; }
    uint64_t features() const override { return 0; }
    uint32_t queue_count() const override { return 2; }
    uint16_t queue_max_size() const override { return 8; }
    uint32_t config_size() const override { return 0; }
    void read_config(uint32_t, uint8_t*, uint32_t) override {}
    void write_config(uint32_t, const uint8_t*, uint32_t) override {}
    void activate(uint64_t) override {}
    void reset() override {}
    void notify(cv::Queues& queues, uint32_t q) override {
        if (share_of_one_) {
            cv::SplitQueue* sq = queues.queue(q);
            cv::Segment segs[4];
            cv::Chain chain;
            if (sq != nullptr && sq->pop(segs, 4, chain)) sq->push(chain.head, 0);
        }
        std::lock_guard lock(mu_);
        ++kicks_[q];
        cv_.notify_all();
    }
    // Else what a device says by default (the console's receive queue).
    bool resume(uint32_t q) const override { return share_of_one_ || VirtioDevice::resume(q); }
    // Waits (5 s at most) until queue q has had `n` kicks in all.
    bool wait_kicks(uint32_t q, int n) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return kicks_[q] >= n; });
    }
    int kicks(uint32_t q) {
        std::lock_guard lock(mu_);
        return kicks_[q];
    }

private:
    bool share_of_one_;
    std::mutex mu_;
    std::condition_variable cv_;
    int kicks_[2] = {};
};

// The driver's accesses as MMIO on BAR0 and config-space writes, as the
// vCPU threads pass them to the device.
struct Guest final : VirtioPciDriver {
    explicit Guest(hv::dev::VirtioPci& p) : pci(p) {}
    uint64_t read(uint32_t offset, uint8_t size) override {
        uint8_t b[8] = {};
        REQUIRE(pci.mmio(kBar + offset, b, size, false));
        return load(b, size);
    }
    void write(uint32_t offset, uint64_t value, uint8_t size) override {
        uint8_t b[8];
        store(value, b);
        REQUIRE(pci.mmio(kBar + offset, b, size, true));
    }
    void config_write(uint32_t offset, uint32_t value, uint8_t size) override { pci.config_write(offset, value, size); }
    hv::dev::VirtioPci& pci;
};

struct Rig {
    explicit Rig(bool notifiers, bool share_of_one = false) : vm(drv, notifiers) {
        auto dev = std::make_unique<KickedDevice>(share_of_one);
        device = dev.get();
        auto log = std::make_shared<spdlog::logger>("virtio-pci-test", std::make_shared<spdlog::sinks::null_sink_mt>());
        auto p = hv::dev::VirtioPci::create(std::move(dev), vm, kBar, "test", log);
        REQUIRE(p);
        pci = std::move(*p);
        REQUIRE(pci->serve_on(loop));
        REQUIRE(loop.start());
    }
    ~Rig() { loop.stop(); }

    VirtqDriver drv{8};
    TestVm vm;
    KickedDevice* device = nullptr;
    std::unique_ptr<hv::dev::VirtioPci> pci;
    hv::dev::IoLoop loop;
};

uint64_t notify_at(uint32_t q) { return kBar + cv::kNotifyOffset + q * cv::kNotifyMultiplier; }

} // namespace

TEST_CASE("virtio-pci device: Bus Master back on with the driver running has every queue looked at", "[virtio]") {
    for (const bool notifiers : {false, true}) {
        DYNAMIC_SECTION((notifiers ? "kicks through the platform's notifiers" : "kicks through mmio()")) {
            Rig r(notifiers);
            Guest g(*r.pci);
            REQUIRE(g.start(2));
            REQUIRE(r.pci->driver_ok());
            // A kick on queue 0 reaches the device on the loop's thread.
            if (notifiers) {
                REQUIRE(r.vm.notify(notify_at(0)));
            } else {
                g.write(cv::kNotifyOffset, 0, 2);
            }
            REQUIRE(r.device->wait_kicks(0, 1));
            // Bus Master off (as before kexec), then on again without a
            // reset: queue 1, which the driver never kicked, is looked at.
            g.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory, 2);
            CHECK(r.device->kicks(1) == 0);
            g.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory | hv::core::pci::kCommandBusMaster, 2);
            CHECK(r.device->wait_kicks(1, 1));
            CHECK(r.device->wait_kicks(0, 2));
        }
    }
}

TEST_CASE("virtio-pci device: the platform's notifiers follow BAR0 and go with unserve", "[virtio]") {
    Rig r(true);
    Guest g(*r.pci);
    REQUIRE(g.start(2));
    CHECK(r.vm.notify(notify_at(1)));
    REQUIRE(r.device->wait_kicks(1, 1));
    // Memory decoding off: BAR0 answers nothing, and no notifier is left
    // at its old address.
    g.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandBusMaster, 2);
    CHECK_FALSE(r.vm.notify(notify_at(1)));
    uint8_t b[2] = {};
    CHECK_FALSE(r.pci->mmio(kBar + cv::kNotifyOffset, b, 2, true));
    g.config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory | hv::core::pci::kCommandBusMaster, 2);
    CHECK(r.vm.notify(notify_at(1)));
    r.pci->unserve(r.loop);
    CHECK_FALSE(r.vm.notify(notify_at(0)));
    CHECK_FALSE(r.vm.notify(notify_at(1)));
}

TEST_CASE("virtio-pci device: chains a device leaves are looked at again only if it says a call would move them", "[virtio]") {
    for (const bool share_of_one : {false, true}) {
        DYNAMIC_SECTION((share_of_one ? "one chain per call, and more wanted" : "nothing to put in them")) {
            Rig r(false, share_of_one);
            Guest g(*r.pci);
            REQUIRE(g.start(1));
            // Three receive buffers on queue 0, and one kick.
            for (uint16_t d = 0; d < 3; ++d) {
                r.drv.desc(d, VirtqDriver::kBuf + 0x100ull * d, 0x100, cv::kDescWrite);
                r.drv.offer(d);
            }
            g.write(cv::kNotifyOffset, 0, 2);
            REQUIRE(r.device->wait_kicks(0, 1));
            if (share_of_one) {
                // Called again while chains are left: all three served.
                CHECK(r.device->wait_kicks(0, 3));
                for (int i = 0; i < 100 && r.drv.used_idx() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
                CHECK(r.drv.used_idx() == 3);
            }
            // Then quiet: a queue kept full is not called again and again
            // (which spun the I/O loop for every idle virtio console).
            const int kicks = r.device->kicks(0);
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            CHECK(r.device->kicks(0) == kicks);
        }
    }
}
