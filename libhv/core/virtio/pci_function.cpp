#include "core/virtio/pci_function.hpp"

#include "core/le_bytes.hpp"

namespace hv::core::virtio {

namespace {

// struct virtio_pci_cap cfg_type values (virtio 1.2 4.1.4).
constexpr uint8_t kCapCommon = 1;
constexpr uint8_t kCapNotify = 2;
constexpr uint8_t kCapIsr = 3;
constexpr uint8_t kCapDevice = 4;

constexpr uint32_t kCommonSize = 0x3c;
constexpr uint32_t kIsrSize = 4;
constexpr uint16_t kMsixEnable = 1u << 15;
constexpr uint16_t kMsixFunctionMask = 1u << 14;
constexpr uint8_t kIsrQueue = 1;
constexpr uint8_t kIsrConfig = 2;

// The body of a struct virtio_pci_cap after cap_vndr and cap_next: cap_len,
// cfg_type, bar, id, padding[2], offset, length (and, for notifications,
// notify_off_multiplier).
uint8_t vendor_cap(uint8_t* body, uint8_t type, uint32_t offset, uint32_t length, bool notify) {
    const uint8_t len = notify ? 18 : 14;
    for (uint32_t i = 0; i < 18; ++i) body[i] = 0;
    body[0] = static_cast<uint8_t>(len + 2);
    body[1] = type;
    body[2] = 0; // BAR0
    for (uint32_t i = 0; i < 4; ++i) {
        body[6 + i] = static_cast<uint8_t>(offset >> (8 * i));
        body[10 + i] = static_cast<uint8_t>(length >> (8 * i));
        body[14 + i] = static_cast<uint8_t>(kNotifyMultiplier >> (8 * i));
    }
    return len;
}

// The part of a 64-bit register a 4- or 8-byte access at `at` (its offset
// within the register: 0 or 4) replaces.
uint64_t merge64(uint64_t old, uint64_t value, uint32_t at, uint8_t size) {
    if (size == 8 && at == 0) return value;
    if (size != 4) return old;
    return at == 0 ? (old & ~0xffffffffull) | (value & 0xffffffffull) : (old & 0xffffffffull) | (value << 32);
}

} // namespace

PciFunction::PciFunction(VirtioDevice& device, const GuestRam& ram, InterruptSink& irq, uint64_t bar_gpa)
    : device_(device), ram_(ram), irq_(irq),
      config_(pci::Identity{kPciVendor, static_cast<uint16_t>(0x1040 + device.device_type()), 1,
                            device.device_type() == 2 ? 0x010000u : 0x078000u, kPciVendor, 0x1100, 0}) {
    nqueues_ = device.queue_count();
    if (nqueues_ == 0 || nqueues_ > kMaxQueues || device.config_size() > kNotifyOffset - kDeviceOffset ||
        !config_.add_memory_bar(0, kBarSize, bar_gpa, true))
        return;
    uint8_t body[18];
    bool ok = true;
    uint8_t len = vendor_cap(body, kCapCommon, kCommonOffset, kCommonSize, false);
    ok = ok && config_.add_capability(pci::kCapVendor, body, len, nullptr) != 0;
    len = vendor_cap(body, kCapNotify, kNotifyOffset, nqueues_ * kNotifyMultiplier, true);
    ok = ok && config_.add_capability(pci::kCapVendor, body, len, nullptr) != 0;
    len = vendor_cap(body, kCapIsr, kIsrOffset, kIsrSize, false);
    ok = ok && config_.add_capability(pci::kCapVendor, body, len, nullptr) != 0;
    if (device.config_size() != 0) {
        len = vendor_cap(body, kCapDevice, kDeviceOffset, device.config_size(), false);
        ok = ok && config_.add_capability(pci::kCapVendor, body, len, nullptr) != 0;
    }
    // MSI-X: message control (table size - 1; enable and function mask are
    // the driver's), table and PBA in BAR0.
    const uint16_t vectors = static_cast<uint16_t>(nqueues_ + 1);
    uint8_t msix[10] = {};
    store_le(msix, vectors - 1u, 2);
    store_le(msix + 2, kMsixTableOffset, 4);
    store_le(msix + 6, kMsixPbaOffset, 4);
    const uint8_t msix_mask[10] = {0, 0xc0};
    msix_cap_ = config_.add_capability(pci::kCapMsix, msix, sizeof msix, msix_mask);
    ok = ok && msix_cap_ != 0;
    valid_ = ok;
    reset();
    // Every MSI-X vector starts masked (PCI 3.0 6.8.2.9). The table is the
    // PCI function's, not the virtio device's: a virtio reset keeps it, as
    // the driver's interrupt setup outlives one.
    for (uint32_t v = 0; v < kMsixVectors; ++v) msix_table_[16 * v + 12] = 1;
}

bool PciFunction::msix_enabled() const { return (config_.read(msix_cap_ + 2u, 2) & kMsixEnable) != 0; }
bool PciFunction::msix_masked() const { return (config_.read(msix_cap_ + 2u, 2) & kMsixFunctionMask) != 0; }

bool PciFunction::config_write(uint32_t offset, uint32_t value, uint8_t size) {
    const bool was_running = running();
    config_.write(offset, value, size);
    // Enabling MSI-X or clearing its function mask releases what was pending.
    deliver_pending();
    return !was_running && running();
}

uint64_t PciFunction::bar_address() const {
    if ((config_.command() & pci::kCommandMemory) == 0) return 0;
    return config_.bar_address(0);
}

uint64_t PciFunction::offered() const {
    return device_.features() | kFVersion1 | kFEventIdx | kFIndirectDesc;
}

void PciFunction::reset() {
    device_feature_select_ = 0;
    driver_feature_select_ = 0;
    driver_features_ = 0;
    config_vector_ = kNoVector;
    status_ = 0;
    queue_select_ = 0;
    isr_ = 0;
    for (uint32_t q = 0; q < kMaxQueues; ++q) {
        regs_[q] = QueueRegs{};
        regs_[q].size = q < nqueues_ ? device_.queue_max_size() : 0;
        queues_[q].reset();
    }
}

void PciFunction::bar_read(uint32_t offset, uint8_t* data, uint8_t size) {
    uint64_t v = 0;
    if (offset >= kCommonOffset && offset + size <= kCommonOffset + kCommonSize) {
        v = common_read(offset - kCommonOffset, size);
    } else if (offset == kIsrOffset) {
        v = isr_; // reading acknowledges (virtio 1.2 4.1.4.5)
        isr_ = 0;
    } else if (offset >= kDeviceOffset && offset + size <= kDeviceOffset + device_.config_size()) {
        device_.read_config(offset - kDeviceOffset, data, size);
        return;
    } else if (offset >= kMsixTableOffset && offset + size <= kMsixTableOffset + 16 * (nqueues_ + 1)) {
        v = load_le(msix_table_ + (offset - kMsixTableOffset), size);
    } else if (offset >= kMsixPbaOffset && offset + size <= kMsixPbaOffset + 8) {
        v = msix_pending_ >> (8 * (offset - kMsixPbaOffset));
    }
    store_le(data, v, size);
}

void PciFunction::bar_write(uint32_t offset, const uint8_t* data, uint8_t size) {
    const uint64_t v = load_le(data, size);
    if (offset >= kCommonOffset && offset + size <= kCommonOffset + kCommonSize) {
        common_write(offset - kCommonOffset, v, size);
    } else if (offset >= kDeviceOffset && offset + size <= kDeviceOffset + device_.config_size()) {
        device_.write_config(offset - kDeviceOffset, data, size);
    } else if (const int32_t q = notify_queue_at(offset); q >= 0) {
        notify(static_cast<uint32_t>(q));
    } else if (offset >= kMsixTableOffset && offset + size <= kMsixTableOffset + 16 * (nqueues_ + 1)) {
        store_le(msix_table_ + (offset - kMsixTableOffset), v, size);
        deliver_pending(); // an entry unmasked
    }
    // The ISR, the PBA and everything else are read-only or unused.
}

uint64_t PciFunction::common_read(uint32_t off, uint8_t size) {
    const QueueRegs* qr = queue_select_ < nqueues_ ? &regs_[queue_select_] : nullptr;
    uint64_t v = 0;
    switch (off) {
    case 0x00: v = device_feature_select_; break;
    case 0x04: v = device_feature_select_ < 2 ? static_cast<uint32_t>(offered() >> (32 * device_feature_select_)) : 0; break;
    case 0x08: v = driver_feature_select_; break;
    case 0x0c: v = driver_feature_select_ < 2 ? static_cast<uint32_t>(driver_features_ >> (32 * driver_feature_select_)) : 0; break;
    case 0x10: v = config_vector_; break;
    case 0x12: v = nqueues_; break;
    case 0x14: v = status_; break;
    case 0x15: v = config_generation_; break;
    case 0x16: v = queue_select_; break;
    case 0x18: v = qr != nullptr ? qr->size : 0; break;
    case 0x1a: v = qr != nullptr ? qr->vector : kNoVector; break;
    case 0x1c: v = qr != nullptr && qr->enabled ? 1 : 0; break;
    case 0x1e: v = qr != nullptr ? queue_select_ : 0; break; // queue_notify_off: the queue's own index
    case 0x20: case 0x24: v = qr != nullptr ? qr->desc >> (8 * (off - 0x20)) : 0; break;
    case 0x28: case 0x2c: v = qr != nullptr ? qr->driver >> (8 * (off - 0x28)) : 0; break;
    case 0x30: case 0x34: v = qr != nullptr ? qr->device >> (8 * (off - 0x30)) : 0; break;
    case 0x38: v = qr != nullptr ? queue_select_ : 0; break; // queue_notify_data
    default: break; // queue_reset (not offered) and unaligned pieces read 0
    }
    if (size < 8) v &= (1ull << (8 * size)) - 1;
    return v;
}

void PciFunction::common_write(uint32_t off, uint64_t v, uint8_t size) {
    QueueRegs* qr = queue_select_ < nqueues_ ? &regs_[queue_select_] : nullptr;
    // Queue registers change only while the queue is off and the driver
    // has not finished (virtio 1.2 4.1.4.3.2).
    const bool queue_setup = qr != nullptr && !qr->enabled && (status_ & kStatusDriverOk) == 0;
    switch (off) {
    case 0x00: device_feature_select_ = static_cast<uint32_t>(v); break;
    case 0x08: driver_feature_select_ = static_cast<uint32_t>(v); break;
    case 0x0c:
        if (driver_feature_select_ < 2 && (status_ & kStatusFeaturesOk) == 0) {
            const uint32_t shift = 32 * driver_feature_select_;
            driver_features_ = (driver_features_ & ~(0xffffffffull << shift)) | ((v & 0xffffffffull) << shift);
        }
        break;
    case 0x10: config_vector_ = v < nqueues_ + 1u ? static_cast<uint16_t>(v) : kNoVector; break;
    case 0x14: set_status(static_cast<uint8_t>(v)); break;
    case 0x16: queue_select_ = static_cast<uint16_t>(v); break;
    case 0x18:
        // A power of two no larger than the device's maximum; anything else
        // is kept and refused by SplitQueue::configure at enable.
        if (queue_setup) qr->size = static_cast<uint16_t>(v);
        break;
    case 0x1a:
        if (qr != nullptr) qr->vector = v < nqueues_ + 1u ? static_cast<uint16_t>(v) : kNoVector;
        break;
    case 0x1c:
        if (queue_setup && v == 1) enable_queue(queue_select_);
        break;
    case 0x20: case 0x24: if (queue_setup) qr->desc = merge64(qr->desc, v, off - 0x20, size); break;
    case 0x28: case 0x2c: if (queue_setup) qr->driver = merge64(qr->driver, v, off - 0x28, size); break;
    case 0x30: case 0x34: if (queue_setup) qr->device = merge64(qr->device, v, off - 0x30, size); break;
    default: break; // read-only fields
    }
}

void PciFunction::set_status(uint8_t s) {
    if (s == 0) {
        if (status_ & kStatusDriverOk) device_.reset();
        reset();
        ++config_generation_;
        return;
    }
    // The driver only adds bits (virtio 1.2 2.1.2); NEEDS_RESET is the device's.
    const uint8_t added = static_cast<uint8_t>(s & ~status_ & ~kStatusNeedsReset);
    uint8_t next = static_cast<uint8_t>(status_ | added);
    if ((added & kStatusFeaturesOk) != 0) {
        // Only what was offered, and virtio 1.x: otherwise FEATURES_OK
        // does not stick and the driver gives up (virtio 1.2 3.1.1).
        if ((driver_features_ & ~offered()) != 0 || (driver_features_ & kFVersion1) == 0)
            next = static_cast<uint8_t>(next & ~kStatusFeaturesOk);
    }
    if ((added & kStatusDriverOk) != 0) {
        if ((next & kStatusFeaturesOk) == 0) {
            next = static_cast<uint8_t>(next & ~kStatusDriverOk);
        } else {
            status_ = next;
            device_.activate(driver_features_);
            return;
        }
    }
    status_ = next;
}

void PciFunction::enable_queue(uint32_t q) {
    QueueRegs& r = regs_[q];
    SplitQueue::Features f;
    f.event_idx = (driver_features_ & kFEventIdx) != 0;
    f.indirect_desc = (driver_features_ & kFIndirectDesc) != 0;
    if (r.size > device_.queue_max_size() ||
        queues_[q].configure(ram_, SplitQueue::Layout{r.size, r.desc, r.driver, r.device}, f) != QueueError::none) {
        needs_reset();
        return;
    }
    r.enabled = true;
}

// The device touches guest memory only while the driver has it running
// and lets it master the bus (Linux clears Bus Master before kexec).
bool PciFunction::running() const {
    return (status_ & kStatusDriverOk) != 0 && (status_ & kStatusNeedsReset) == 0 &&
           (config_.command() & pci::kCommandBusMaster) != 0;
}

int32_t PciFunction::notify_queue_at(uint32_t offset) const {
    if (offset < kNotifyOffset || offset >= kNotifyOffset + nqueues_ * kNotifyMultiplier) return -1;
    return static_cast<int32_t>((offset - kNotifyOffset) / kNotifyMultiplier);
}

void PciFunction::notify(uint32_t q) {
    if (q < nqueues_ && running() && regs_[q].enabled) device_.notify(device_queues_, q);
}

bool PciFunction::pending(uint32_t q) {
    return q < nqueues_ && running() && regs_[q].enabled && queues_[q].ready() && queues_[q].available() > 0 && device_.resume(q);
}

void PciFunction::poll() { device_.poll(device_queues_); }

const Queues::Ops PciFunction::kQueueOps = {
    [](void* t, uint32_t q) { return static_cast<PciFunction*>(t)->queue(q); },
    [](void* t, uint32_t q) { static_cast<PciFunction*>(t)->used(q); },
    [](void* t) { static_cast<PciFunction*>(t)->needs_reset(); },
    [](void* t) { return static_cast<PciFunction*>(t)->running(); },
};

SplitQueue* PciFunction::queue(uint32_t q) {
    return q < nqueues_ && regs_[q].enabled ? &queues_[q] : nullptr;
}

void PciFunction::used(uint32_t q) {
    if (q >= nqueues_ || !regs_[q].enabled || !queues_[q].needs_interrupt()) return;
    interrupt(regs_[q].vector, kIsrQueue);
}

void PciFunction::needs_reset() {
    if ((status_ & kStatusNeedsReset) != 0) return;
    status_ = static_cast<uint8_t>(status_ | kStatusNeedsReset);
    if ((status_ & kStatusDriverOk) != 0) interrupt(config_vector_, kIsrConfig);
}

void PciFunction::interrupt(uint16_t vector, uint8_t isr_bit) {
    if (!msix_enabled()) {
        isr_ = static_cast<uint8_t>(isr_ | isr_bit); // no INTx pin: the driver may poll it
        return;
    }
    if (vector >= nqueues_ + 1u) return; // the driver asked for no interrupt
    const uint8_t* e = msix_table_ + 16 * vector;
    if (msix_masked() || (e[12] & 1) != 0) {
        msix_pending_ |= 1ull << vector;
        return;
    }
    irq_.msi(load_le(e, 8), static_cast<uint32_t>(load_le(e + 8, 4)));
}

void PciFunction::deliver_pending() {
    if (msix_pending_ == 0 || !msix_enabled() || msix_masked()) return;
    for (uint16_t v = 0; v < nqueues_ + 1u; ++v) {
        const uint8_t* e = msix_table_ + 16 * v;
        if ((msix_pending_ & (1ull << v)) == 0 || (e[12] & 1) != 0) continue;
        msix_pending_ &= ~(1ull << v);
        irq_.msi(load_le(e, 8), static_cast<uint32_t>(load_le(e + 8, 4)));
    }
}

} // namespace hv::core::virtio
