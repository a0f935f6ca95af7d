// The driver's side of the virtio 1.x PCI transport as Linux's
// virtio_pci_modern does it: status bits, feature negotiation, queue setup
// and DRIVER_OK through the common configuration in BAR0, with Memory
// Space and Bus Master enabled first as pci_enable_device/pci_set_master
// do. What carries the accesses is the subclass's: the core's PciFunction
// directly (test_virtio_pci_function.cpp) or hv's VirtioPci through MMIO
// (test_virtio_pci.cpp). The rings are VirtqDriver's layout.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/pci/config_space.hpp"
#include "core/virtio/pci_function.hpp"
#include "virtq_driver.hpp"

namespace hvtest {

// Common configuration offsets (struct virtio_pci_common_cfg).
constexpr uint32_t kDeviceFeatureSelect = 0x00, kDeviceFeature = 0x04, kDriverFeatureSelect = 0x08,
                   kDriverFeature = 0x0c, kConfigMsixVector = 0x10, kNumQueues = 0x12, kDeviceStatus = 0x14,
                   kConfigGeneration = 0x15, kQueueSelect = 0x16, kQueueSize = 0x18, kQueueMsixVector = 0x1a,
                   kQueueEnable = 0x1c, kQueueNotifyOff = 0x1e, kQueueDesc = 0x20, kQueueDriver = 0x28,
                   kQueueDevice = 0x30;

class VirtioPciDriver {
public:
    // BAR0 at `offset`, `size` bytes (1, 2, 4 or 8), little-endian.
    virtual uint64_t read(uint32_t offset, uint8_t size) = 0;
    virtual void write(uint32_t offset, uint64_t value, uint8_t size) = 0;
    // Config space.
    virtual void config_write(uint32_t offset, uint32_t value, uint8_t size) = 0;

    uint8_t status() { return static_cast<uint8_t>(read(kDeviceStatus, 1)); }
    void add_status(uint8_t bits) { write(kDeviceStatus, status() | bits, 1); }

    // ACKNOWLEDGE, DRIVER, the features, FEATURES_OK; answers whether it stuck.
    bool negotiate(uint64_t features) {
        config_write(hv::core::pci::kCommand, hv::core::pci::kCommandMemory | hv::core::pci::kCommandBusMaster, 2);
        write(kDeviceStatus, hv::core::virtio::kStatusAcknowledge, 1);
        add_status(hv::core::virtio::kStatusDriver);
        write(kDriverFeatureSelect, 0, 4);
        write(kDriverFeature, static_cast<uint32_t>(features), 4);
        write(kDriverFeatureSelect, 1, 4);
        write(kDriverFeature, features >> 32, 4);
        add_status(hv::core::virtio::kStatusFeaturesOk);
        return (status() & hv::core::virtio::kStatusFeaturesOk) != 0;
    }
    // Queue q with VirtqDriver's layout (the same rings for every queue:
    // the tests use one queue's rings at a time).
    void setup_queue(uint16_t q, uint16_t size = 8, uint64_t desc = VirtqDriver::kDesc) {
        write(kQueueSelect, q, 2);
        write(kQueueSize, size, 2);
        write(kQueueDesc, static_cast<uint32_t>(desc), 4);
        write(kQueueDesc + 4, desc >> 32, 4);
        write(kQueueDriver, VirtqDriver::kAvail, 4);
        write(kQueueDriver + 4, 0, 4);
        write(kQueueDevice, VirtqDriver::kUsed, 4);
        write(kQueueDevice + 4, 0, 4);
        write(kQueueEnable, 1, 2);
    }
    // What Linux does before it uses the device: VERSION_1 only, queues
    // 0..queues-1, DRIVER_OK. false when a step did not stick.
    bool start(uint16_t queues = 1) {
        if (!negotiate(hv::core::virtio::kFVersion1)) return false;
        for (uint16_t q = 0; q < queues; ++q) {
            setup_queue(q);
            if (read(kQueueEnable, 2) != 1) return false;
        }
        add_status(hv::core::virtio::kStatusDriverOk);
        return (status() & hv::core::virtio::kStatusDriverOk) != 0;
    }

protected:
    ~VirtioPciDriver() = default;
    // An access's bytes as a value and back (little-endian, as x86).
    static uint64_t load(const uint8_t* b, uint8_t size) {
        uint64_t v = 0;
        std::memcpy(&v, b, size);
        return v;
    }
    static void store(uint64_t v, uint8_t* b) { std::memcpy(b, &v, 8); }
};

} // namespace hvtest
