// RawTerminal: puts stdin's terminal in raw mode (when stdin is a tty) for
// the life of the object, so console keys reach the guest; the destructor
// restores it, on every way out of the scope.
#pragma once

#include <termios.h>
#include <unistd.h>

namespace hvctl {

class RawTerminal {
public:
    RawTerminal() {
        if (::isatty(STDIN_FILENO) == 0 || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        termios raw = saved_;
        ::cfmakeraw(&raw);
        raw.c_oflag |= OPOST | ONLCR; // keep guest newlines readable
        active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

    bool active() const { return active_; }

private:
    termios saved_{};
    bool active_ = false;
};

constexpr char kDetachKey = 0x1d; // Ctrl-], as xl console

} // namespace hvctl
