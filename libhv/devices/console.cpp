#include "devices/console.hpp"

namespace hv::dev {

void Console::write(const uint8_t* data, size_t len) {
    std::lock_guard lock(mu_);
    ring_.write(data, len);
    const std::string_view text(reinterpret_cast<const char*>(data), len);
    for (auto& [id, fn] : listeners_) fn(text);
}

std::string Console::history() const {
    std::lock_guard lock(mu_);
    std::string out(ring_.size(), '\0');
    ring_.copy_out(reinterpret_cast<uint8_t*>(out.data()), out.size());
    return out;
}

int Console::subscribe(Listener fn, bool replay) {
    std::lock_guard lock(mu_);
    if (replay && ring_.size() > 0) {
        std::string past(ring_.size(), '\0');
        ring_.copy_out(reinterpret_cast<uint8_t*>(past.data()), past.size());
        fn(past);
    }
    const int id = next_id_++;
    listeners_.emplace(id, std::move(fn));
    return id;
}

void Console::unsubscribe(int id) {
    std::lock_guard lock(mu_);
    listeners_.erase(id);
}

size_t Console::push_input(std::string_view bytes) {
    size_t taken = 0;
    {
        std::lock_guard lock(mu_);
        for (char c : bytes) {
            if (input_.size() >= kMaxInput) break;
            input_.push_back(static_cast<uint8_t>(c));
            ++taken;
        }
    }
    if (taken > 0 && on_input_) on_input_();
    return taken;
}

size_t Console::read_input(uint8_t* dst, size_t cap) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    while (n < cap && !input_.empty()) {
        dst[n++] = input_.front();
        input_.pop_front();
    }
    return n;
}

bool Console::has_input() const {
    std::lock_guard lock(mu_);
    return !input_.empty();
}

} // namespace hv::dev
