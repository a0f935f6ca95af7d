// SharedMapping: a small file mapped MAP_SHARED, so two processes see the
// same memory (hvd's scheduler and a domain process: sched_page.hpp). The
// file is the rendezvous; it lives under hvd's private state folder.
//
// The other process may be hostile: if it truncates the file, touching the
// mapping raises SIGBUS here. A process-wide SIGBUS handler (installed with
// the first mapping, chaining to whatever handler was there) finds the
// fault inside a SharedMapping, puts private zero pages over that mapping
// so the faulting access completes, and marks it poisoned; its owner (the
// host scheduler) then drops it. A fault anywhere else goes on to the
// previous handler or the default action, as before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "hv/result.hpp"

namespace hv::sched {

class SharedMapping {
public:
    SharedMapping() = default;
    // A new file of `size` zero bytes (mode 0600; refused if it exists).
    static Result<SharedMapping> create(const std::string& path, size_t size);
    // An existing file: a regular file (no symlink followed, one link) of
    // exactly `size` bytes, owned by this user.
    static Result<SharedMapping> open(const std::string& path, size_t size);
    // open() on a descriptor the caller opened (taken over: closed here,
    // mapped or not), so the caller may keep another on the same file.
    static Result<SharedMapping> open_fd(int fd, const std::string& path, size_t size);
    // open() when the file is there, else create(); `created` says which.
    static Result<SharedMapping> open_or_create(const std::string& path, size_t size, bool& created);
    ~SharedMapping();
    SharedMapping(SharedMapping&& o) noexcept;
    SharedMapping& operator=(SharedMapping&& o) noexcept;
    SharedMapping(const SharedMapping&) = delete;
    SharedMapping& operator=(const SharedMapping&) = delete;

    void* data() const { return data_; }
    bool mapped() const { return data_ != nullptr; }
    // The file under it shrank (SIGBUS): it now reads zeros and shares
    // nothing. Stays true.
    bool poisoned() const;
    // Counts poisonings in this process: a cheap "did anything change" for
    // owners that poll many mappings.
    static uint64_t poison_count();

private:
    static Result<SharedMapping> map(int fd, const std::string& path, size_t size);
    void release();
    void* data_ = nullptr;
    size_t size_ = 0;
    int slot_ = -1; // in the SIGBUS handler's table
};

} // namespace hv::sched
