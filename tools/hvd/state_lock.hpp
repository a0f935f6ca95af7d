// StateLock: one hvd per state directory. hvd takes STATE/hvd.lock with
// flock() before it touches any domain or file there, and writes its pid
// into it; a second hvd on the same state dir is refused at once, naming
// the holder. The kernel drops the lock when hvd dies (kill -9 included).
#pragma once

#include <string>

#include "hv/result.hpp"

namespace hvd {

class StateLock {
public:
    static hv::Result<StateLock> take(const std::string& state_dir);
    StateLock(StateLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    StateLock& operator=(StateLock&&) = delete;
    ~StateLock();

private:
    explicit StateLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

} // namespace hvd
