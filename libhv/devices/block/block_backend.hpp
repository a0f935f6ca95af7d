// BlockBackend: where a virtual disk's bytes live on the host (a raw image
// file or block device; qcow2 comes next), behind the calls a block
// device model makes. Offsets and lengths are bytes, whole sectors.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>

#include "hv/result.hpp"

namespace hv::dev {

class BlockBackend {
public:
    virtual ~BlockBackend() = default;
    virtual uint64_t size() const = 0;
    virtual bool read_only() const = 0;
    // What `hvctl block-list` and the logs call it (the image's path).
    virtual const std::string& path() const = 0;
    // Whole transfers: a short one is an error (the disk does not shrink
    // under the guest: callers checked the range against size()).
    virtual Result<void> read(const iovec* iov, int count, uint64_t offset) = 0;
    virtual Result<void> write(const iovec* iov, int count, uint64_t offset) = 0;
    // Everything written so far reaches stable storage.
    virtual Result<void> flush() = 0;
    // The guest no longer needs the range (a hint: may do nothing).
    virtual Result<void> discard(uint64_t offset, uint64_t length) = 0;
    // The range reads as zeros afterwards; `unmap`: it may be deallocated.
    virtual Result<void> write_zeroes(uint64_t offset, uint64_t length, bool unmap) = 0;
};

} // namespace hv::dev
