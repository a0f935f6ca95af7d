// BlockBackend: where a virtual disk's bytes live on the host (a raw image
// file or block device; qcow2 comes next), behind the calls a block
// device model makes. Offsets and lengths are bytes, whole sectors.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "hv/result.hpp"

namespace hv::dev {

// One read or write of a batch (BlockBackend::transfer_batch).
struct BlockIo {
    bool write = false;
    const iovec* iov = nullptr;
    int count = 0;
    uint64_t offset = 0;
    Result<void> result; // set by the backend
};

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
    // Does every transfer of `ios` (reads and writes the guest had in
    // flight at once); they may run concurrently and end in any order,
    // and each gets its result. The default does them one by one.
    virtual void transfer_batch(BlockIo* ios, size_t n) {
        for (size_t i = 0; i < n; ++i)
            ios[i].result = ios[i].write ? write(ios[i].iov, ios[i].count, ios[i].offset) : read(ios[i].iov, ios[i].count, ios[i].offset);
    }
    // Everything written so far reaches stable storage.
    virtual Result<void> flush() = 0;
    // The guest no longer needs the range (a hint: may do nothing).
    virtual Result<void> discard(uint64_t offset, uint64_t length) = 0;
    // The range reads as zeros afterwards; `unmap`: it may be deallocated.
    virtual Result<void> write_zeroes(uint64_t offset, uint64_t length, bool unmap) = 0;
};

} // namespace hv::dev
