#include "devices/block/uring_queue.hpp"

#include <liburing.h>

#include <algorithm>
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

UringQueue::~UringQueue() { ::io_uring_queue_exit(ring_.get()); }

void UringQueue::run(int fd, BlockIo* ios, size_t n, bool* again) {
    for (size_t base = 0; base < n; base += kDepth) {
        const size_t count = std::min<size_t>(n - base, kDepth);
        size_t queued = 0;
        for (size_t i = base; i < base + count; ++i) {
            again[i] = true; // until its completion says otherwise
            io_uring_sqe* sqe = ::io_uring_get_sqe(ring_.get());
            if (sqe == nullptr) continue; // cannot happen with count <= kDepth: done the slow way
            const auto count_iov = static_cast<unsigned>(ios[i].count);
            if (ios[i].write) {
                ::io_uring_prep_writev(sqe, fd, ios[i].iov, count_iov, ios[i].offset);
            } else {
                ::io_uring_prep_readv(sqe, fd, ios[i].iov, count_iov, ios[i].offset);
            }
            ::io_uring_sqe_set_data64(sqe, i);
            ++queued;
        }
        // Submits all and waits for all. A failed submit leaves what was
        // not submitted for the slow way; what was is still waited for.
        int submitted = ::io_uring_submit_and_wait(ring_.get(), static_cast<unsigned>(queued));
        while (submitted == -EINTR) submitted = ::io_uring_submit_and_wait(ring_.get(), static_cast<unsigned>(queued));
        size_t outstanding = submitted > 0 ? static_cast<size_t>(submitted) : 0;
        while (outstanding > 0) {
            io_uring_cqe* cqe = nullptr;
            const int w = ::io_uring_wait_cqe(ring_.get(), &cqe);
            if (w == -EINTR) continue;
            if (w < 0) break; // the ring is broken: the rest go the slow way
            const uint64_t i = ::io_uring_cqe_get_data64(cqe);
            if (i >= base && i < base + count) {
                uint64_t want = 0;
                for (int k = 0; k < ios[i].count; ++k) want += ios[i].iov[k].iov_len;
                if (cqe->res >= 0 && static_cast<uint64_t>(cqe->res) == want) {
                    again[i] = false;
                    ios[i].result = {};
                }
            }
            ::io_uring_cqe_seen(ring_.get(), cqe);
            --outstanding;
        }
    }
}

} // namespace hv::dev
