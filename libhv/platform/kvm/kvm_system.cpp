#include "platform/kvm/kvm_system.hpp"

#include "platform/kvm/kvm_cpuid.hpp"
#include "platform/kvm/kvm_vm.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace hv::kvm {

namespace {
Error sys_error(const char* what) { return make_error(Errc::platform_error, fmt::format("{}: {}", what, std::strerror(errno))); }
} // namespace

Result<std::shared_ptr<KvmSystem>> KvmSystem::open(const char* path) {
    auto sys = std::make_shared<KvmSystem>();
    sys->fd_ = UniqueFd(::open(path, O_RDWR | O_CLOEXEC));
    if (!sys->fd_.valid()) return make_error(Errc::platform_error, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    const int api = ::ioctl(sys->fd(), KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION)
        return make_error(Errc::platform_error, fmt::format("{}: KVM API version {} (need {})", path, api, KVM_API_VERSION));
    const int size = ::ioctl(sys->fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0) return sys_error("KVM_GET_VCPU_MMAP_SIZE");
    sys->run_size_ = static_cast<size_t>(size);
    const int sync = ::ioctl(sys->fd(), KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    sys->sync_regs_ = sync > 0 && (sync & KVM_SYNC_X86_REGS) != 0;

    // The entry count is not known up front: grow until KVM stops saying E2BIG.
    for (uint32_t n = 64; n <= 4096; n *= 2) {
        std::vector<uint8_t> buf(sizeof(CpuidHeader) + n * sizeof(kvm_cpuid_entry2));
        CpuidHeader head{n, 0};
        std::memcpy(buf.data(), &head, sizeof head);
        if (::ioctl(sys->fd(), kGetSupportedCpuid, buf.data()) == 0) {
            std::memcpy(&head, buf.data(), sizeof head);
            sys->cpuid_.resize(head.nent);
            std::memcpy(sys->cpuid_.data(), buf.data() + sizeof head, head.nent * sizeof(kvm_cpuid_entry2));
            break;
        }
        if (errno != E2BIG) return sys_error("KVM_GET_SUPPORTED_CPUID");
    }
    if (sys->cpuid_.empty()) return make_error(Errc::platform_error, "KVM_GET_SUPPORTED_CPUID: no entries");

    kvm::kick_signal(); // install the handler before any vCPU thread exists
    return sys;
}

uint64_t KvmSystem::max_ram_bytes() const { return kMaxRamBytes; }

Result<std::unique_ptr<platform::Vm>> KvmSystem::create_vm(uint64_t ram_bytes) {
    auto vm = KvmVm::create(shared_from_this(), ram_bytes);
    if (!vm) return vm.error();
    return std::unique_ptr<platform::Vm>(std::move(*vm));
}

int KvmSystem::kick_signal() const { return kvm::kick_signal(); }

int kick_signal() {
    static std::once_flag once;
    static const int sig = SIGRTMIN + 3;
    std::call_once(once, [] {
        struct sigaction sa {};
        // Makes KVM_RUN return EINTR, and the next one return at once if
        // the signal lands just before it.
        sa.sa_handler = [](int) { on_kick_signal(); };
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        ::sigaction(sig, &sa, nullptr);
    });
    return sig;
}

} // namespace hv::kvm
