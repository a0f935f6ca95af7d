// BlockBackend: where a virtual disk's bytes live on the host (RawFile: a
// raw image file or block device; Qcow2Image: a qcow2 image and its
// backing files; open_disk picks one by format), behind the calls a block
// device model makes. Offsets and lengths are bytes, whole sectors.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "hv/result.hpp"

namespace hv::dev {

// One read or write started with BlockBackend::start(). The caller keeps
// it (and the buffers) in place until wait_any() hands it back.
struct BlockIo {
    bool write = false;
    const iovec* iov = nullptr;
    int count = 0;
    uint64_t offset = 0;
    uint32_t tag = 0;    // the caller's
    Result<void> result; // set by the backend when it ends
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
    // Asynchronous transfers, for backends that have them (RawFile, with
    // io_uring): start() queues `io` and returns true, or returns false
    // (no queue, or it is full) and the caller does a read()/write()
    // itself. Started transfers run concurrently and end in any order;
    // wait_any() returns one that ended, with its result, waiting for it
    // if `block` (nullptr: none in flight, or none ended and !block). One
    // caller at a time.
    virtual bool start(BlockIo& io) {
        (void)io;
        return false;
    }
    virtual BlockIo* wait_any(bool block) {
        (void)block;
        return nullptr;
    }
    // Everything written so far reaches stable storage.
    virtual Result<void> flush() = 0;
    // The guest no longer needs the range (a hint: may do nothing).
    virtual Result<void> discard(uint64_t offset, uint64_t length) = 0;
    // The range reads as zeros afterwards; `unmap`: it may be deallocated.
    virtual Result<void> write_zeroes(uint64_t offset, uint64_t length, bool unmap) = 0;
};

} // namespace hv::dev
