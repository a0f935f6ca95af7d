// AcpiPm: hv's fixed ACPI hardware, as the FADT describes it
// (core/acpi/acpi_tables.hpp): the PM1a event block (status and enable:
// the power button), the PM1a control block (SCI_EN always set; SLP_EN
// with \_S5's SLP_TYP powers off), the GPE0 block (general-purpose
// events: PCI hotplug's) and the reset register at 0xcf9. The SCI is ISA
// IRQ 9, level-triggered, raised while an enabled status bit is set. What a guest's poweroff or reset means is the owner's decision,
// handed to it through `on_sleep`.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "devices/io_device.hpp"

namespace hv::dev {

class AcpiPm final : public IoDevice {
public:
    enum class Request { poweroff, reset };
    using RequestHandler = std::function<void(Request)>;
    using IrqLine = std::function<void(bool level)>;

    AcpiPm(RequestHandler on_request, IrqLine sci) : on_request_(std::move(on_request)), sci_(std::move(sci)) {}

    // The PM1 blocks, at core::acpi::kPm1EvtPort (kPmPorts bytes).
    uint8_t read(uint16_t offset) override;
    void write(uint16_t offset, uint8_t value) override;

    // A press of the fixed power button (xl shutdown): sets PWRBTN_STS.
    void press_power_button();
    // General-purpose event `bit` (0..15) happened: its GPE0 status bit is
    // set (the guest's handler, the DSDT's \_GPE._Exx, clears it).
    void raise_gpe(uint32_t bit);

    // The GPE0 block, a device of its own at core::acpi::kGpe0Port:
    // status (2 bytes, write 1 to clear) then enable (2 bytes).
    class Gpe0Block final : public IoDevice {
    public:
        explicit Gpe0Block(AcpiPm& pm) : pm_(pm) {}
        uint8_t read(uint16_t offset) override;
        void write(uint16_t offset, uint8_t value) override;

    private:
        AcpiPm& pm_;
    };

    // The reset register, a device of its own at core::acpi::kResetPort.
    class ResetRegister final : public IoDevice {
    public:
        explicit ResetRegister(AcpiPm& pm) : pm_(pm) {}
        uint8_t read(uint16_t) override { return 0; }
        void write(uint16_t offset, uint8_t value) override;

    private:
        AcpiPm& pm_;
    };

private:
    void update_sci_locked();

    RequestHandler on_request_;
    IrqLine sci_;
    std::mutex mu_;
    uint16_t status_ = 0, enable_ = 0, control_ = 1; // SCI_EN: ACPI mode from the start
    uint16_t gpe_status_ = 0, gpe_enable_ = 0;
    bool sci_level_ = false;
};

} // namespace hv::dev
