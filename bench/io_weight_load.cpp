// io_weight_load: one contender of bench_io_weight. Reads (4 KiB at random
// offsets) or writes (64 KiB) with O_DIRECT through hv's own io_uring
// queue (devices/block/uring_queue), keeping up to DEPTH in flight, from
// T_START to T_END (CLOCK_BOOTTIME seconds, /proc/uptime's clock, so both
// contenders start together), and prints "bytes=<n> secs=<s>".
//   io_weight_load PATH read|write OFF_MIB LEN_MIB DEPTH T_START T_END
//                  [--table=FILE --slot=N --weight=W]   hv's ShareArbiter
//                  [--ioprio=LEVEL]                     ioprio_set(BE, LEVEL)
#include <fcntl.h>
#include <linux/ioprio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "core/qos/share_arbiter.hpp"
#include "devices/block/uring_queue.hpp"

namespace {

uint64_t boot_ns() {
    timespec t{};
    ::clock_gettime(CLOCK_BOOTTIME, &t);
    return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "io_weight_load: %s\n", what.c_str());
    std::exit(1);
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 8) fail("usage: PATH read|write OFF_MIB LEN_MIB DEPTH T_START T_END [--table=F --slot=N --weight=W] [--ioprio=L]");
    const std::string path = argv[1];
    const bool write = std::strcmp(argv[2], "write") == 0;
    const uint64_t off = std::strtoull(argv[3], nullptr, 10) << 20, len = std::strtoull(argv[4], nullptr, 10) << 20;
    const unsigned depth = static_cast<unsigned>(std::atoi(argv[5]));
    const auto t0 = static_cast<uint64_t>(std::atof(argv[6]) * 1e9), t1 = static_cast<uint64_t>(std::atof(argv[7]) * 1e9);
    std::string table;
    unsigned slot = 0;
    uint32_t weight = 100;
    for (int i = 8; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("--table=", 0) == 0) table = a.substr(8);
        else if (a.rfind("--slot=", 0) == 0) slot = static_cast<unsigned>(std::atoi(a.c_str() + 7));
        else if (a.rfind("--weight=", 0) == 0) weight = static_cast<uint32_t>(std::atoi(a.c_str() + 9));
        else if (a.rfind("--ioprio=", 0) == 0) {
            const int level = std::atoi(a.c_str() + 9);
            if (::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, level)) != 0)
                fail(std::string("ioprio_set: ") + std::strerror(errno));
        } else fail("unknown option " + a);
    }
    if (depth == 0 || depth > hv::dev::UringQueue::kDepth || len == 0) fail("bad DEPTH or LEN_MIB");

    hv::core::qos::ShareArbiter arbiter;
    if (!table.empty()) {
        const int tfd = ::open(table.c_str(), O_RDWR | O_CLOEXEC);
        if (tfd < 0) fail(table + ": " + std::strerror(errno));
        void* m = ::mmap(nullptr, sizeof(hv::core::qos::ShareTable), PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
        if (m == MAP_FAILED) fail(table + ": mmap: " + std::strerror(errno));
        arbiter = hv::core::qos::ShareArbiter(static_cast<hv::core::qos::ShareTable*>(m), slot, weight);
    }
    const int fd = ::open(path.c_str(), (write ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
    if (fd < 0) fail(path + ": O_DIRECT: " + std::strerror(errno));
    auto queue = hv::dev::UringQueue::create();
    if (!queue) fail(queue.error().message);

    const size_t bs = write ? 65536 : 4096;
    struct Slot {
        iovec iov{};
        hv::dev::BlockIo io;
    };
    std::vector<Slot> slots(depth);
    std::vector<Slot*> idle;
    for (auto& s : slots) {
        void* buf = nullptr;
        if (::posix_memalign(&buf, 4096, bs) != 0) fail("out of memory");
        std::memset(buf, 0x5a, bs);
        s.iov = {buf, bs};
        s.io.write = write;
        s.io.iov = &s.iov;
        s.io.count = 1;
        idle.push_back(&s);
    }
    std::mt19937_64 rng(static_cast<uint64_t>(::getpid()));
    while (boot_ns() < t0) ::usleep(500);
    uint64_t bytes = 0, now = 0;
    while ((now = boot_ns()) < t1) {
        while (!idle.empty() && arbiter.try_start(now, bs)) {
            Slot* s = idle.back();
            s->io.offset = off + (rng() % (len / bs)) * bs;
            if (!(*queue)->start(fd, s->io)) fail("the io_uring queue is full");
            idle.pop_back();
        }
        if ((*queue)->in_flight() == 0) { // held back with nothing in flight
            ::usleep(200);
            continue;
        }
        bool complete = false;
        hv::dev::BlockIo* io = (*queue)->wait(true, complete);
        if (io == nullptr) continue;
        if (!complete) fail("a transfer failed or ended short");
        arbiter.done(boot_ns());
        bytes += bs;
        for (auto& s : slots)
            if (&s.io == io) idle.push_back(&s);
    }
    while ((*queue)->in_flight() > 0) {
        bool complete = false;
        (void)(*queue)->wait(true, complete);
    }
    arbiter.release();
    std::printf("bytes=%llu secs=%.3f\n", static_cast<unsigned long long>(bytes), static_cast<double>(now - t0) / 1e9);
    return 0;
}
