// UringQueue: a batch of reads and writes on one file descriptor through
// io_uring (Debian's liburing): the guest's requests that arrived together
// are submitted with one system call and run concurrently in the kernel,
// and the batch ends when the last completes. A host without io_uring (a
// seccomp filter, an old kernel) gets no queue: create() says why, and the
// caller does its transfers itself.
#pragma once

#include <memory>

#include "devices/block/block_backend.hpp"

struct io_uring;

namespace hv::dev {

class UringQueue {
public:
    static constexpr unsigned kDepth = 64; // entries in flight at once

    static Result<std::unique_ptr<UringQueue>> create();
    ~UringQueue();
    UringQueue(const UringQueue&) = delete;
    UringQueue& operator=(const UringQueue&) = delete;

    // Every transfer of `ios` on `fd`, kDepth at a time. A transfer the
    // kernel ended short, or failed, is marked in `again` (true), its
    // result left alone, so the caller can retry it the slow way (a short
    // read can be a signal or a huge request, not only the file's end).
    void run(int fd, BlockIo* ios, size_t n, bool* again);

private:
    explicit UringQueue(std::unique_ptr<io_uring> ring);
    std::unique_ptr<io_uring> ring_;
};

} // namespace hv::dev
