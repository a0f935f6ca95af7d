// IoLoop: a domain's I/O thread. Device work that a guest's kick starts
// (virtio queue processing, disk reads and writes) runs here, not on the
// vCPU that kicked: with KVM's ioeventfds the kick does not even leave the
// kernel, and the vCPU goes on running the guest while the disk works.
// One loop per domain (one per domain process under hvd), one thread.
//
// fds come and go while the loop runs (device hotplug): unwatch() returns
// only once the fd's handler is not running and cannot run again, so the
// caller may then close the fd and free what the handler touches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
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
    // (level-triggered: `ready` must consume what made it so). Any thread,
    // before or after start(); an fd is watched once.
    Result<void> watch(int fd, std::function<void()> ready);
    // Stops watching `fd`. On return its handler is not running (unless
    // this is that handler itself, on the loop's thread) and will not be
    // called again. Any thread; an fd not watched is ignored.
    void unwatch(int fd);
    // Stops or resumes watching `fd` (one watch() gave), from any thread:
    // for a device that cannot take what its fd has until the guest acts
    // (a full receive queue), so a level-triggered fd does not spin.
    Result<void> enable(int fd, bool on);
    // The thread starts now if anything is watched, else at the first
    // watch() (no idle thread for a domain without devices). Twice: no-op.
    Result<void> start();
    // What the thread is called (top -H, /proc/PID/task/TID/comm): at most
    // 15 bytes are kept. Before start().
    void set_name(std::string name) { name_ = std::move(name); }
    // The thread ends after the handler it is in (joined here); a later
    // watch() does not start it again. Idempotent. Not from the loop's own
    // thread (a handler): that would join itself, so it does nothing
    // there (callers check on_loop_thread() first).
    void stop();
    bool running() const { return loop_id_.load() != std::thread::id(); }
    bool on_loop_thread() const { return loop_id_.load() == std::this_thread::get_id(); }

private:
    // One watch. epoll's cookie for it is its index and generation, so an
    // event already fetched for an fd unwatched since is recognised as stale.
    struct Slot {
        int fd = -1; // -1: free
        uint32_t generation = 0;
        std::function<void()> ready;
    };
    static uint64_t cookie(size_t index, uint32_t generation) { return (uint64_t{generation} << 32) | index; }
    Slot* find_locked(int fd);
    Result<void> spawn_locked();
    void main();

    int epoll_ = -1;
    int wake_ = -1; // an eventfd: stop() writes it
    std::mutex mu_; // slots_, running_
    std::condition_variable idle_; // the handler of slot running_ returned
    std::vector<Slot> slots_;      // kMaxWatches, never reallocated: a running handler stays put
    size_t running_ = SIZE_MAX;    // the slot whose handler the loop is in
    bool wanted_ = false;          // start() was called, stop() not since
    std::thread thread_;           // under mu_ (stop() takes it out to join it)
    std::string name_ = "hv-io";
    // The thread's id while it runs: running() and on_loop_thread() read
    // it from any thread without the lock.
    std::atomic<std::thread::id> loop_id_{};
};

} // namespace hv::dev
