// Console: a domain's console. Output from every source (16550, console_io
// hypercall) lands in one history ring and is streamed live to listeners;
// input from the control plane queues here for the guest to take.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "core/console_ring.hpp"

namespace hv::dev {

class Console {
public:
    using Listener = std::function<void(std::string_view)>;
    static constexpr size_t kHistory = 64 * 1024;
    static constexpr size_t kMaxInput = 4096; // input beyond this is dropped

    void write(const uint8_t* data, size_t len);
    std::string history() const;

    // Listeners run on the writing (vCPU) thread, under the console lock:
    // keep them short and do not call back into the console. With
    // `replay`, the listener first gets the history, atomically, so an
    // attach neither misses nor repeats a byte.
    int subscribe(Listener fn, bool replay = false);
    void unsubscribe(int id);

    // Returns the bytes accepted. `on_input` (set by the domain) is called
    // after, without the lock, so it may raise an event.
    size_t push_input(std::string_view bytes);
    size_t read_input(uint8_t* dst, size_t cap);
    bool has_input() const;
    void set_input_notify(std::function<void()> fn) { on_input_ = std::move(fn); }

private:
    mutable std::mutex mu_;
    core::ConsoleRing<kHistory> ring_;
    std::map<int, Listener> listeners_;
    int next_id_ = 1;
    std::deque<uint8_t> input_;
    std::function<void()> on_input_;
};

} // namespace hv::dev
