#include "platform/kvm/kvm_vm.hpp"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace hv::kvm {

namespace {
Error sys_error(const char* what) { return make_error(Errc::platform_error, fmt::format("{}: {}", what, std::strerror(errno))); }
} // namespace

Result<std::unique_ptr<KvmVm>> KvmVm::create(std::shared_ptr<KvmSystem> sys, uint64_t ram_bytes) {
    if (ram_bytes == 0 || ram_bytes % 4096 != 0 || ram_bytes > kMaxRamBytes)
        return make_error(Errc::invalid_argument,
                          fmt::format("guest RAM of {} bytes: must be a non-zero multiple of 4 KiB below {} MiB",
                                      ram_bytes, kMaxRamBytes >> 20));
    std::unique_ptr<KvmVm> vm(new KvmVm());
    vm->sys_ = std::move(sys);
    vm->fd_ = UniqueFd(::ioctl(vm->sys_->fd(), KVM_CREATE_VM, 0));
    if (!vm->fd_.valid()) return sys_error("KVM_CREATE_VM");
    if (::ioctl(vm->fd_.get(), KVM_SET_TSS_ADDR, kTssAddr) < 0) return sys_error("KVM_SET_TSS_ADDR");

    // NORESERVE: a guest that never touches its RAM costs the host nothing.
    void* mem = ::mmap(nullptr, ram_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) return sys_error("mmap guest RAM");
    vm->ram_ = core::GuestRam{static_cast<uint8_t*>(mem), ram_bytes};

    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = ram_bytes;
    region.userspace_addr = reinterpret_cast<uint64_t>(mem);
    if (::ioctl(vm->fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) return sys_error("KVM_SET_USER_MEMORY_REGION");
    return vm;
}

KvmVm::~KvmVm() {
    if (ram_.base != nullptr) ::munmap(ram_.base, ram_.size);
}

Result<std::unique_ptr<platform::Vcpu>> KvmVm::create_vcpu(uint32_t id) {
    UniqueFd fd(::ioctl(fd_.get(), KVM_CREATE_VCPU, id));
    if (!fd.valid()) return sys_error("KVM_CREATE_VCPU");
    auto v = KvmVcpu::create(sys_, std::move(fd), id);
    if (!v) return v.error();
    return std::unique_ptr<platform::Vcpu>(std::move(*v));
}

} // namespace hv::kvm
