// IoShare: a domain's place in the proportional share of one backing
// device (the config's io_weight; core/qos/share_arbiter.hpp decides who
// may start). Every domain process with a disk on the device maps the
// same table, a file in hvd's state folder named after the device
// (`<dir>/share-v2-MAJOR-MINOR`), and holds one of its 64 slots.
//
// A slot is held by an open-file-description lock on its byte of the
// file (fcntl F_OFD_SETLK): the kernel drops it when the holder's last fd
// closes, however the process ends (kill -9 included). A joiner takes the
// first free slot and clears every other free slot that still has a
// weight (left by a process that died, or by a previous boot), so such a
// slot lasts at most until the next domain starts on the device (and the
// arbiter ignores it after a second anyway). The table itself stays (2
// KiB per device ever used).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/qos/share_arbiter.hpp"
#include "hv/result.hpp"
#include "monitor/shared_mapping.hpp"

namespace hv::dev {

class IoShare {
public:
    // The device a disk's bytes are on: a block device's own number, or
    // the file system's for a file.
    static uint64_t device_of(const struct stat& st) { return S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev; }
    // Where hvd and its domain processes keep the tables: `<state-dir>/io-share`.
    static std::string dir_in(const std::string& state_dir) { return state_dir + "/io-share"; }
    // The table's file for `device` in `dir`.
    static std::string table_path(const std::string& dir, uint64_t device);

    // Takes a free slot of `device`'s table in `dir` (the table is made
    // when missing), with `weight` (1..10000). Errc::busy when all 64 are
    // held.
    static Result<std::unique_ptr<IoShare>> join(const std::string& dir, uint64_t device, uint32_t weight);
    ~IoShare();
    IoShare(const IoShare&) = delete;
    IoShare& operator=(const IoShare&) = delete;

    core::qos::ShareArbiter& arbiter() { return arbiter_; }
    unsigned slot() const { return slot_; }

private:
    IoShare(sched::SharedMapping map, int lock_fd, unsigned slot, uint32_t weight);
    sched::SharedMapping map_;
    int lock_fd_ = -1;
    unsigned slot_ = 0;
    core::qos::ShareArbiter arbiter_;
};

} // namespace hv::dev
