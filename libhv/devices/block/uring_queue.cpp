#include "devices/block/uring_queue.hpp"

#include <liburing.h>

#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

namespace hv::dev {

Result<std::unique_ptr<UringQueue>> UringQueue::create() {
    auto ring = std::make_unique<io_uring>();
    // liburing returns -errno.
    if (const int e = ::io_uring_queue_init(kDepth, ring.get(), 0); e < 0)
        return make_error(Errc::not_supported, fmt::format("io_uring: {}", std::strerror(-e)));
    return std::unique_ptr<UringQueue>(new UringQueue(std::move(ring)));
}

UringQueue::UringQueue(std::unique_ptr<io_uring> ring) : ring_(std::move(ring)) {}

// Nothing may be in flight here: the kernel would write into buffers
// their owner is about to free. Owners drain first (VirtioBlk does).
UringQueue::~UringQueue() { ::io_uring_queue_exit(ring_.get()); }

bool UringQueue::start(int fd, BlockIo& io) {
    if (in_flight_ >= kDepth) return false;
    io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get());
    if (sqe == nullptr) return false;
    const auto n = static_cast<unsigned>(io.count);
    if (io.write) {
        ::io_uring_prep_writev(sqe, fd, io.iov, n, io.offset);
    } else {
        ::io_uring_prep_readv(sqe, fd, io.iov, n, io.offset);
    }
    ::io_uring_sqe_set_data(sqe, &io);
    ++in_flight_;
    return true;
}

BlockIo* UringQueue::wait(bool block, bool& complete) {
    if (in_flight_ == 0) return nullptr;
    io_uring_cqe* cqe = nullptr;
    for (;;) {
        // Submits whatever start() queued, then waits for one completion.
        const int r = block ? ::io_uring_submit_and_wait(ring_.get(), 1) : ::io_uring_submit(ring_.get());
        if (::io_uring_peek_cqe(ring_.get(), &cqe) == 0 && cqe != nullptr) break;
        if (!block && (r >= 0 || r == -EINTR)) return nullptr;
        // EINTR, or the kernel short of memory (EAGAIN, EBUSY): again. A
        // transfer the kernel has is never abandoned (it would write into
        // guest memory later), so there is no giving up here: a disk that
        // never answers holds this thread, as a blocking read would.
        if (r < 0 && r != -EINTR) ::usleep(1000);
    }
    auto* io = static_cast<BlockIo*>(::io_uring_cqe_get_data(cqe));
    uint64_t want = 0;
    for (int k = 0; k < io->count; ++k) want += io->iov[k].iov_len;
    complete = cqe->res >= 0 && static_cast<uint64_t>(cqe->res) == want;
    if (complete) io->result = {};
    ::io_uring_cqe_seen(ring_.get(), cqe);
    --in_flight_;
    return io;
}

} // namespace hv::dev
