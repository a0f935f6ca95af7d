// UringQueue: reads and writes on file descriptors through io_uring
// (Debian's liburing). Transfers are queued by start(), sent to the kernel
// together by the next wait() (one system call for all a guest had ready)
// and run concurrently there; wait() hands back one that ended. A host
// without io_uring (a seccomp filter, an old kernel) gets no queue:
// create() says why, and the caller does its transfers itself.
#pragma once

#include <memory>

#include "devices/block/block_backend.hpp"

struct io_uring;

namespace hv::dev {

class UringQueue {
public:
    static constexpr unsigned kDepth = 64; // queued and in flight, at most

    static Result<std::unique_ptr<UringQueue>> create();
    ~UringQueue();
    UringQueue(const UringQueue&) = delete;
    UringQueue& operator=(const UringQueue&) = delete;

    // Queues `io` on `fd`; false when kDepth are queued or in flight.
    bool start(int fd, BlockIo& io);
    // Sends what start() queued and returns one transfer that ended
    // (waiting for one if `block`): that BlockIo, `complete` true with its
    // result set, or false when the kernel ended it short or failed it (a
    // short read can be a signal or a huge request, not only the file's
    // end: the caller does it again the slow way, which also words the
    // error). nullptr: none in flight, or none ended and !block.
    BlockIo* wait(bool block, bool& complete);
    unsigned in_flight() const { return in_flight_; }

private:
    explicit UringQueue(std::unique_ptr<io_uring> ring);
    std::unique_ptr<io_uring> ring_;
    unsigned in_flight_ = 0; // started and not yet handed back
};

} // namespace hv::dev
