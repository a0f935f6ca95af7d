// DomidCounter: hands out domids from a counter file shared by every
// monitor process under one state directory (hvd runs one process per
// domain), so ids stay unique across them. flock() on the counter file
// serializes the processes; the file survives restarts, so ids are not
// reused soon.
//
// Ids are never reused while their owner lives: each id in use is a lease,
// a file STATE/ids/<domid> held with flock() by the process that owns the
// domain. The kernel drops the lock when that process dies, so a crashed
// owner frees its ids without anyone cleaning up. When the counter wraps,
// ids whose lease is held are skipped.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "hv/result.hpp"

namespace hv::control {

class DomidCounter {
public:
    // `state_dir`: the counter is STATE/domid.next, the leases STATE/ids/.
    explicit DomidCounter(std::string state_dir);
    ~DomidCounter();
    DomidCounter(const DomidCounter&) = delete;
    DomidCounter& operator=(const DomidCounter&) = delete;

    // The next id whose lease nobody holds; this object holds it now.
    Result<uint32_t> next();
    // Takes the lease of a given id (hvd keeps a crashed process's
    // preserved domain); false when someone else holds it.
    bool hold(uint32_t domid);
    // Gives a lease back (the domain is gone).
    void release(uint32_t domid);
    bool holds(uint32_t domid) const;

private:
    // Locks the lease file of `domid`; the fd, or -1 when held elsewhere.
    int try_lease(uint32_t domid) const;

    std::string counter_path_;
    std::string lease_dir_;
    mutable std::mutex mu_;
    std::map<uint32_t, int> leases_; // domid -> locked fd
};

} // namespace hv::control
