#include "devices/acpi_pm.hpp"

#include "core/acpi/acpi_tables.hpp"

namespace hv::dev {

namespace {
constexpr uint16_t kPwrBtn = 1u << 8;          // PM1 status/enable: power button
constexpr uint16_t kStatusWritable = kPwrBtn;  // the status (and enable) bits this machine has
constexpr uint16_t kSciEn = 1u << 0;
constexpr uint16_t kSlpEn = 1u << 13;
constexpr uint16_t kSlpTypShift = 10;
constexpr uint16_t kSlpTypMask = 7u << kSlpTypShift;
constexpr uint8_t kResetCpu = 0x04; // 0xcf9: bit 2 starts the reset
} // namespace

void AcpiPm::update_sci_locked() {
    const bool level = (status_ & enable_) != 0 || (gpe_status_ & gpe_enable_) != 0;
    if (level == sci_level_) return;
    sci_level_ = level;
    if (sci_) sci_(level);
}

uint8_t AcpiPm::read(uint16_t offset) {
    std::lock_guard lock(mu_);
    uint16_t reg = 0;
    switch (offset / 2) {
    case 0: reg = status_; break;
    case 1: reg = enable_; break;
    default: reg = control_; break;
    }
    return static_cast<uint8_t>(reg >> (8 * (offset % 2)));
}

void AcpiPm::write(uint16_t offset, uint8_t value) {
    bool poweroff = false;
    {
        std::lock_guard lock(mu_);
        const unsigned shift = 8 * (offset % 2);
        const auto merge = [&](uint16_t reg) {
            return static_cast<uint16_t>((reg & ~(0xffu << shift)) | (uint16_t{value} << shift));
        };
        switch (offset / 2) {
        case 0: status_ = static_cast<uint16_t>(status_ & ~((uint16_t{value} << shift) & kStatusWritable)); break; // write 1 to clear
        case 1: enable_ = static_cast<uint16_t>(merge(enable_) & kStatusWritable); break; // only what exists sticks
        default: {
            const uint16_t v = merge(control_);
            // SLP_EN is write-only: it acts on this write and reads as 0.
            if ((v & kSlpEn) != 0 && ((v & kSlpTypMask) >> kSlpTypShift) == core::acpi::kSlpTypS5) poweroff = true;
            control_ = static_cast<uint16_t>((v & ~kSlpEn) | kSciEn);
            break;
        }
        }
        update_sci_locked();
    }
    if (poweroff && on_request_) on_request_(Request::poweroff);
}

void AcpiPm::press_power_button() {
    std::lock_guard lock(mu_);
    status_ |= kPwrBtn;
    update_sci_locked();
}

void AcpiPm::raise_gpe(uint32_t bit) {
    if (bit >= 16) return;
    std::lock_guard lock(mu_);
    gpe_status_ = static_cast<uint16_t>(gpe_status_ | (1u << bit));
    update_sci_locked();
}

uint8_t AcpiPm::Gpe0Block::read(uint16_t offset) {
    std::lock_guard lock(pm_.mu_);
    const uint16_t reg = offset < 2 ? pm_.gpe_status_ : pm_.gpe_enable_;
    return static_cast<uint8_t>(reg >> (8 * (offset % 2)));
}

void AcpiPm::Gpe0Block::write(uint16_t offset, uint8_t value) {
    std::lock_guard lock(pm_.mu_);
    const uint16_t bits = static_cast<uint16_t>(uint16_t{value} << (8 * (offset % 2)));
    if (offset < 2) {
        pm_.gpe_status_ = static_cast<uint16_t>(pm_.gpe_status_ & ~bits); // write 1 to clear
    } else {
        const uint16_t keep = offset % 2 == 0 ? 0xff00 : 0x00ff;
        pm_.gpe_enable_ = static_cast<uint16_t>((pm_.gpe_enable_ & keep) | bits);
    }
    pm_.update_sci_locked();
}

void AcpiPm::ResetRegister::write(uint16_t, uint8_t value) {
    if ((value & kResetCpu) != 0 && pm_.on_request_) pm_.on_request_(Request::reset);
}

} // namespace hv::dev
