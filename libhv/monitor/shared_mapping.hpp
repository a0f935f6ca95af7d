// SharedMapping: a small file mapped MAP_SHARED, so two processes see the
// same memory (hvd's scheduler and a domain process: sched_page.hpp). The
// file is the rendezvous; it lives under hvd's private state folder.
#pragma once

#include <cstddef>
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
    // open() when the file is there, else create(); `created` says which.
    static Result<SharedMapping> open_or_create(const std::string& path, size_t size, bool& created);
    ~SharedMapping();
    SharedMapping(SharedMapping&& o) noexcept;
    SharedMapping& operator=(SharedMapping&& o) noexcept;
    SharedMapping(const SharedMapping&) = delete;
    SharedMapping& operator=(const SharedMapping&) = delete;

    void* data() const { return data_; }
    bool mapped() const { return data_ != nullptr; }

private:
    static Result<SharedMapping> map(int fd, const std::string& path, size_t size);
    void* data_ = nullptr;
    size_t size_ = 0;
};

} // namespace hv::sched
