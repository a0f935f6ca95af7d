// RawFile: a raw disk image or a host block device (xl's format=raw, the
// file:, phy: and tap:aio: prefixes). Synchronous I/O on the caller's
// thread with preadv/pwritev; FLUSH is fdatasync, DISCARD punches a hole,
// WRITE_ZEROES zeroes the range (fallocate, or BLKZEROOUT/BLKDISCARD on a
// block device).
#pragma once

#include <memory>

#include "devices/block/block_backend.hpp"
#include "devices/block/uring_queue.hpp"

namespace hv::dev {

class RawFile final : public BlockBackend {
public:
    // Opens `path` read-write or read-only; a regular file or a block
    // device, nothing else (a FIFO, a character device or a directory is
    // refused at create without being opened). A writable block device is
    // opened O_EXCL: one the host has mounted is refused.
    static Result<std::unique_ptr<RawFile>> open(const std::string& path, bool read_only);
    ~RawFile() override;
    RawFile(const RawFile&) = delete;
    RawFile& operator=(const RawFile&) = delete;

    uint64_t size() const override { return size_; }
    bool read_only() const override { return read_only_; }
    const std::string& path() const override { return path_; }
    Result<void> read(const iovec* iov, int count, uint64_t offset) override;
    Result<void> write(const iovec* iov, int count, uint64_t offset) override;
    // Through io_uring when the host has it (one caller at a time: the
    // domain's I/O loop); a transfer it cannot finish is done again with
    // preadv/pwritev, which also words its error.
    bool start(BlockIo& io) override;
    BlockIo* wait_any(bool block) override;
    Result<void> flush() override;
    Result<void> discard(uint64_t offset, uint64_t length) override;
    Result<void> write_zeroes(uint64_t offset, uint64_t length, bool unmap) override;

private:
    RawFile(int fd, std::string path, uint64_t size, bool read_only, bool block_device)
        : fd_(fd), path_(std::move(path)), size_(size), read_only_(read_only), block_device_(block_device) {}
    Result<void> transfer(const iovec* iov, int count, uint64_t offset, bool write);

    int fd_;
    std::string path_;
    uint64_t size_;
    bool read_only_;
    bool block_device_;
    std::unique_ptr<UringQueue> uring_; // made by the first start()
    bool uring_tried_ = false;
};

} // namespace hv::dev
