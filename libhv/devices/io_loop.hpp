// IoLoop: a domain's I/O thread. Device work that a guest's kick starts
// (virtio queue processing, disk reads and writes) runs here, not on the
// vCPU that kicked: with KVM's ioeventfds the kick does not even leave the
// kernel, and the vCPU goes on running the guest while the disk works.
// One loop per domain (one per domain process under hvd), one thread.
//
// Every fd is watched before start() and stays until the loop has
// stopped, so the table needs no lock and no handler runs on a closed fd.
#pragma once

#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "hv/result.hpp"

namespace hv::dev {

class IoLoop {
public:
    // 16 disks (a queue and a limits timer each), 8 vifs (two queues, the
    // TAP and a timer each), a console's two queues and the port drain
    // timer need 67.
    static constexpr size_t kMaxWatches = 96;

    IoLoop();
    ~IoLoop();
    IoLoop(const IoLoop&) = delete;
    IoLoop& operator=(const IoLoop&) = delete;

    // Calls `ready` on the loop's thread each time `fd` becomes readable
    // (level-triggered: `ready` must consume what made it so). Before
    // start() only.
    Result<void> watch(int fd, std::function<void()> ready);
    // Stops or resumes watching `fd` (one watch() gave), from any thread:
    // for a device that cannot take what its fd has until the guest acts
    // (a full receive queue), so a level-triggered fd does not spin.
    Result<void> enable(int fd, bool on);
    // The thread starts (no-op when nothing is watched, or twice).
    Result<void> start();
    // The thread ends after the handler it is in (joined here). Idempotent.
    // Not from the loop's own thread (a handler): that would join itself,
    // so it does nothing there (callers check on_loop_thread() first).
    void stop();
    bool running() const { return thread_.joinable(); }
    bool on_loop_thread() const { return running() && std::this_thread::get_id() == thread_.get_id(); }

private:
    void main();

    int epoll_ = -1;
    int wake_ = -1; // an eventfd: stop() writes it
    std::vector<std::function<void()>> handlers_;
    std::vector<int> fds_; // handlers_[i] watches fds_[i]
    std::thread thread_;
};

} // namespace hv::dev
