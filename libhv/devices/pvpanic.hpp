// PvPanic: QEMU's pvpanic ISA device at port 0x505, as Linux's
// pvpanic-mmio driver finds it through the DSDT (ACPI id QEMU0001). A
// guest kernel that panics writes PANICKED here, and the domain stops
// with reason crash (its on_crash action applies) instead of sitting in a
// dead loop or rebooting as if asked to. Reading gives the events it
// offers.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/io_device.hpp"

namespace hv::dev {

class PvPanic final : public IoDevice {
public:
    static constexpr uint16_t kPort = 0x505;
    static constexpr uint8_t kPanicked = 1u << 0;
    static constexpr uint8_t kCrashLoaded = 1u << 1; // a kdump kernel takes over: not a stop

    explicit PvPanic(std::function<void()> on_panic) : on_panic_(std::move(on_panic)) {}

    uint8_t read(uint16_t) override { return kPanicked | kCrashLoaded; }
    void write(uint16_t, uint8_t value) override {
        if ((value & kPanicked) != 0 && on_panic_) on_panic_();
    }

private:
    std::function<void()> on_panic_;
};

} // namespace hv::dev
