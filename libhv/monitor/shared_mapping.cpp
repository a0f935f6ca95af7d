#include "monitor/shared_mapping.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace hv::sched {

namespace {
Error sys_error(const std::string& path, const char* what) {
    return make_error(Errc::io_error, fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}

// The SIGBUS handler's table: lock-free, so the handler (async-signal
// context) reads it safely. hvd maps one page per domain plus the bell.
constexpr int kGuardSlots = 4096;
struct Guarded {
    std::atomic<uintptr_t> base{0}; // 0: free
    std::atomic<size_t> size{0};
    std::atomic<bool> poisoned{false};
};
Guarded g_guarded[kGuardSlots];
constexpr uintptr_t kReserved = 1; // a slot being filled; no mapping starts at address 1
std::atomic<uint64_t> g_poisonings{0};
struct sigaction g_previous {};

// The default action for this SIGBUS: for a fault, returning re-runs the
// access and it faults again; a sent signal is raised again (it is blocked
// in here, so it lands once the handler returns).
void die_of(int sig, const siginfo_t* info) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
    if (info->si_code <= 0) ::raise(sig);
}

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
    // Only a fault the kernel reports (si_code > 0: BUS_ADRERR, ...) names
    // a real address; a SIGBUS some process sent carries what it likes.
    if (info->si_code > 0) {
        const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
        for (Guarded& g : g_guarded) {
            const uintptr_t base = g.base.load(std::memory_order_acquire);
            const size_t size = g.size.load(std::memory_order_acquire);
            if (base <= kReserved || addr < base || addr - base >= size) continue;
            // Private zero pages in its place: the access completes, the
            // mapping is no longer shared with the process that shrank it.
            const int saved = errno;
            void* p = ::mmap(reinterpret_cast<void*>(base), size, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            errno = saved;
            if (p == MAP_FAILED) return die_of(sig, info); // or it would fault for ever
            g.poisoned.store(true, std::memory_order_release);
            g_poisonings.fetch_add(1, std::memory_order_acq_rel);
            return;
        }
    }
    // Not ours: whoever handled SIGBUS before us, or the default action.
    if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
        g_previous.sa_sigaction(sig, info, ctx);
        return;
    }
    if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN && g_previous.sa_handler != nullptr) {
        g_previous.sa_handler(sig);
        return;
    }
    die_of(sig, info);
}

// Whether the guard is in place (installed once; false if sigaction failed).
bool install_guard() {
    static const bool installed = [] {
        struct sigaction sa {};
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        return ::sigaction(SIGBUS, &sa, &g_previous) == 0;
    }();
    return installed;
}

// A free slot for [base, base + size), or -1 when the table is full (the
// mapping then has no guard: map() refuses it).
int guard(void* base, size_t size) {
    if (!install_guard()) return -1;
    for (int i = 0; i < kGuardSlots; ++i) {
        Guarded& g = g_guarded[i];
        uintptr_t expected = 0;
        if (!g.base.compare_exchange_strong(expected, kReserved, std::memory_order_acq_rel)) continue;
        // Size and flag before the base that makes the slot live.
        g.size.store(size, std::memory_order_release);
        g.poisoned.store(false, std::memory_order_release);
        g.base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
        return i;
    }
    return -1;
}
} // namespace

Result<SharedMapping> SharedMapping::map(int fd, const std::string& path, size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) {
        errno = err;
        return sys_error(path, "mmap");
    }
    const int slot = guard(p, size);
    if (slot < 0) {
        ::munmap(p, size);
        return make_error(Errc::busy, fmt::format("{}: no SIGBUS guard for it (more than {} shared mappings in this "
                                                  "process, or the handler could not be installed)", path, kGuardSlots));
    }
    SharedMapping m;
    m.data_ = p;
    m.size_ = size;
    m.slot_ = slot;
    return m;
}

bool SharedMapping::poisoned() const {
    return slot_ >= 0 && g_guarded[slot_].poisoned.load(std::memory_order_acquire);
}

uint64_t SharedMapping::poison_count() { return g_poisonings.load(std::memory_order_acquire); }

// Unguarded before unmapped. A mapping is released only once nothing in
// this process touches it any more (hvd's scheduler holds its owner while
// attached), so no fault on it can race this.
void SharedMapping::release() {
    if (data_ == nullptr) return;
    if (slot_ >= 0) g_guarded[slot_].base.store(0, std::memory_order_release);
    ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
    slot_ = -1;
}

Result<SharedMapping> SharedMapping::create(const std::string& path, size_t size) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return sys_error(path, "create");
    // Allocated, not sparse: a full file system cannot fault the first
    // write to a page (SIGBUS that would look like a hostile truncation).
    if (const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0) {
        errno = err;
        const auto e = sys_error(path, "posix_fallocate");
        ::close(fd);
        ::unlink(path.c_str());
        return e;
    }
    return map(fd, path, size);
}

Result<SharedMapping> SharedMapping::open(const std::string& path, size_t size) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return sys_error(path, "open");
    return open_fd(fd, path, size);
}

Result<SharedMapping> SharedMapping::open_fd(int fd, const std::string& path, size_t size) {
    if (fd < 0) return sys_error(path, "dup");
    struct stat st {};
    // One link only: a hard link to another domain's page would have it
    // scheduled under the wrong process.
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || st.st_nlink != 1 ||
        static_cast<size_t>(st.st_size) != size) {
        ::close(fd);
        return make_error(Errc::invalid_argument,
                          fmt::format("{}: not a {}-byte regular file of this user with one link", path, size));
    }
    return map(fd, path, size);
}

Result<SharedMapping> SharedMapping::open_or_create(const std::string& path, size_t size, bool& created) {
    struct stat st {};
    created = ::lstat(path.c_str(), &st) != 0 && errno == ENOENT;
    return created ? create(path, size) : open(path, size);
}

SharedMapping::~SharedMapping() { release(); }

SharedMapping::SharedMapping(SharedMapping&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), slot_(std::exchange(o.slot_, -1)) {}

SharedMapping& SharedMapping::operator=(SharedMapping&& o) noexcept {
    if (this != &o) {
        release();
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
        slot_ = std::exchange(o.slot_, -1);
    }
    return *this;
}

} // namespace hv::sched
