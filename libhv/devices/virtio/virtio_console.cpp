#include "devices/virtio/virtio_console.hpp"

#include <algorithm>
#include <cstring>

namespace hv::dev {

namespace cv = core::virtio;

namespace {

constexpr uint32_t kMaxSegments = 16;
// Bytes taken from one transmit chain: a console line is short; a driver
// offering more gets the rest ignored (the chain is still returned).
constexpr uint32_t kMaxChainBytes = 64 * 1024;

} // namespace

void VirtioConsole::read_config(uint32_t, uint8_t* data, uint32_t len) { std::memset(data, 0, len); }

void VirtioConsole::notify(cv::Queues& queues, uint32_t q) {
    if (q == kTransmitq) transmit(queues);
    if (q == kReceiveq) receive(queues);
}

void VirtioConsole::transmit(cv::Queues& queues) {
    cv::SplitQueue* queue = queues.queue(kTransmitq);
    if (queue == nullptr) return;
    cv::Segment segs[kMaxSegments];
    cv::Chain chain;
    while (queue->pop(segs, kMaxSegments, chain)) {
        uint32_t left = kMaxChainBytes;
        for (uint32_t i = 0; i < chain.segments && left > 0; ++i) {
            if (segs[i].writable) continue;
            const uint32_t n = std::min(segs[i].len, left);
            console_.write(ram_.at(segs[i].gpa, n), n);
            left -= n;
        }
        queue->push(chain.head, 0);
        queues.used(kTransmitq);
    }
    if (queue->error() != cv::QueueError::none) queues.needs_reset();
}

// Pending input into the guest's receive buffers, one chain at a time, as
// long as both last; input without buffers waits for the driver's next
// kick of the receive queue.
void VirtioConsole::receive(cv::Queues& queues) {
    cv::SplitQueue* queue = queues.queue(kReceiveq);
    if (queue == nullptr) return;
    cv::Segment segs[kMaxSegments];
    cv::Chain chain;
    while (console_.has_input() && queue->pop(segs, kMaxSegments, chain)) {
        uint32_t written = 0;
        for (uint32_t i = 0; i < chain.segments; ++i) {
            if (!segs[i].writable) continue;
            const size_t n = console_.read_input(ram_.at(segs[i].gpa, segs[i].len), segs[i].len);
            written += static_cast<uint32_t>(n);
            if (n < segs[i].len) break;
        }
        queue->push(chain.head, written);
        queues.used(kReceiveq);
    }
    if (queue->error() != cv::QueueError::none) queues.needs_reset();
}

} // namespace hv::dev
