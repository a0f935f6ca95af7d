// bench_virtio_blk: a guest's disk I/O through hv's virtio-blk against the
// host's own O_DIRECT I/O on the same file, in the same run.
//
// Ours: the blkbench guest (tests/guests/blkbench) on hv's PC machine, a
// ring-3 virtio-blk driver keeping requests in flight and polling the used
// ring, on one raw image file. hv serves the queue on the domain's I/O
// loop (kicks caught by KVM ioeventfds, a batch of requests per pass
// through io_uring). The guest announces each phase; the host drops the
// file's page cache, starts the clock and tells the guest to go; the clock
// stops when the guest's "end" line arrives.
// Baseline: the same phases on the same file from the host, O_DIRECT
// through io_uring with the same request size and depth (and an fdatasync
// after the writes, as the guest's FLUSH).
//
// Phases: seqwrite and seqread (1 MiB requests, depth 4, --seq-mib MiB),
// randread (4 KiB requests at random aligned offsets in that range, depth
// 32, --rand-ops requests). Figures: MiB/s and IOPS, median of --runs.
// RESULT lines: virtio_blk_seq_write, virtio_blk_seq_read (ratio = ours /
// baseline throughput, as time ratios inverted: higher is better for hv)
// and virtio_blk_rand_read_iops.
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>

#include "bench_util.hpp"
#include "config/domain_config_loader.hpp"

using namespace hvbench;

namespace {

constexpr uint32_t kBig = 1u << 20;
constexpr uint32_t kSmall = 4096;
constexpr uint32_t kDepthSeq = 4;
constexpr uint32_t kDepthRand = 32;

struct Phase {
    const char* name;
    bool write;
    uint32_t bytes;
    uint32_t depth;
};
constexpr Phase kPhases[] = {{"seqwrite", true, kBig, kDepthSeq}, {"seqread", false, kBig, kDepthSeq}, {"randread", false, kSmall, kDepthRand}};

std::string guest_path() {
    const char* env = std::getenv("HV_BLKBENCH_GUEST");
    if (env != nullptr && *env != 0) return env;
#ifdef HV_BENCH_BLKBENCH_GUEST
    return HV_BENCH_BLKBENCH_GUEST;
#else
    die("HV_BLKBENCH_GUEST is not set");
#endif
}

// The file's cached pages go, so both sides read from the device.
void drop_cache(int fd) {
    if (::fdatasync(fd) != 0) die(std::string("fdatasync: ") + std::strerror(errno));
    if (::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) die("posix_fadvise(DONTNEED) failed");
}

struct Xorshift {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint64_t next() {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        return x;
    }
};

// The host's side: `count` requests, `depth` in flight, O_DIRECT.
double host_phase(const std::string& path, const Phase& p, uint64_t count, uint64_t range_bytes) {
    const int fd = ::open(path.c_str(), (p.write ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
    if (fd < 0) die("open O_DIRECT " + path + ": " + std::strerror(errno) + " (the file system must support O_DIRECT)");
    drop_cache(fd);
    io_uring ring;
    if (const int e = ::io_uring_queue_init(64, &ring, 0); e < 0) die(std::string("io_uring: ") + std::strerror(-e));
    std::vector<void*> bufs(p.depth);
    for (auto& b : bufs) {
        if (::posix_memalign(&b, 4096, p.bytes) != 0) die("posix_memalign");
        std::memset(b, 0x5a, p.bytes);
    }
    Xorshift rng;
    const uint64_t blocks = range_bytes / p.bytes;
    uint64_t posted = 0, done = 0;
    const auto post = [&](uint32_t slot) {
        io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
        const uint64_t off = p.bytes == kBig ? posted * kBig : (rng.next() % blocks) * p.bytes;
        if (p.write) ::io_uring_prep_write(sqe, fd, bufs[slot], p.bytes, off);
        else ::io_uring_prep_read(sqe, fd, bufs[slot], p.bytes, off);
        ::io_uring_sqe_set_data64(sqe, slot);
        ++posted;
    };
    const auto t0 = Clock::now();
    for (uint32_t s = 0; s < p.depth && posted < count; ++s) post(s);
    ::io_uring_submit(&ring);
    while (done < count) {
        io_uring_cqe* cqe = nullptr;
        if (const int e = ::io_uring_wait_cqe(&ring, &cqe); e < 0) die(std::string("io_uring_wait_cqe: ") + std::strerror(-e));
        if (cqe->res != static_cast<int>(p.bytes)) die("host I/O failed or was short: " + std::to_string(cqe->res));
        const auto slot = static_cast<uint32_t>(::io_uring_cqe_get_data64(cqe));
        ::io_uring_cqe_seen(&ring, cqe);
        ++done;
        if (posted < count) {
            post(slot);
            ::io_uring_submit(&ring);
        }
    }
    if (p.write && ::fdatasync(fd) != 0) die("fdatasync");
    const double s = seconds_between(t0, Clock::now());
    ::io_uring_queue_exit(&ring);
    for (void* b : bufs) std::free(b);
    ::close(fd);
    return s;
}

// hv's side: one guest run doing every phase; seconds per phase.
std::map<std::string, double> hv_run(hv::Monitor& m, const std::string& path, uint64_t seq_mib, uint64_t rand_ops) {
    const std::string text = "name = 'bench-blk'\nkernel = '" + guest_path() +
                             "'\nmemory = 128\nvcpus = 1\non_poweroff = 'preserve'\n"
                             "disk = [ 'file:" + path + ",xvda,w' ]\n"
                             "extra = 'seq_mib=" + std::to_string(seq_mib) + " depth_seq=" + std::to_string(kDepthSeq) +
                             " rand_ops=" + std::to_string(rand_ops) + " depth_rand=" + std::to_string(kDepthRand) + "'\n";
    auto cfg = hv::config::parse_domain_config(text, "bench.cfg");
    if (!cfg) die("config: " + cfg.error().message);
    auto id = m.create(*cfg, true);
    if (!id) die("Monitor::create: " + id.error().message);

    const int cache_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (cache_fd < 0) die("open " + path);
    std::mutex mu;
    std::condition_variable cv;
    std::string pending;                 // console bytes not yet a whole line
    std::vector<std::string> ready;      // phases announced, waiting for go
    std::map<std::string, Clock::time_point> start, end;
    auto sub = m.console_subscribe(*id, hv::Domain::ConsoleKind::serial, [&](std::string_view bytes) {
        const auto now = Clock::now();
        std::lock_guard lock(mu);
        pending.append(bytes);
        for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
            const std::string line = pending.substr(0, nl);
            char name[32] = {};
            if (std::sscanf(line.c_str(), "PHASE %31s ready", name) == 1 && line.find(" ready") != std::string::npos) {
                ready.push_back(name);
            } else if (std::sscanf(line.c_str(), "PHASE %31s end", name) == 1) {
                end[name] = now;
            }
        }
        cv.notify_all();
    });
    if (!sub) die("console_subscribe: " + sub.error().message);
    if (auto r = m.unpause(*id); !r) die("unpause: " + r.error().message);

    bool failed = false;
    for (const Phase& p : kPhases) {
        std::unique_lock lock(mu);
        if (!cv.wait_for(lock, std::chrono::minutes(2), [&] { return !ready.empty(); })) {
            failed = true;
            break;
        }
        const std::string name = ready.front();
        ready.erase(ready.begin());
        lock.unlock();
        drop_cache(cache_fd);
        start[name] = Clock::now();
        if (auto r = m.console_input(*id, hv::Domain::ConsoleKind::serial, "g"); !r) die("console_input: " + r.error().message);
        (void)p;
    }
    auto info = m.wait_stopped(*id, std::chrono::minutes(5));
    m.console_unsubscribe(*id, hv::Domain::ConsoleKind::serial, *sub);
    ::close(cache_fd);
    auto history = m.console_history(*id, hv::Domain::ConsoleKind::serial);
    (void)m.destroy(*id);
    const std::string console = history ? *history : "";
    if (failed || !info || info->shutdown_reason != hv::core::ShutdownReason::poweroff ||
        console.find("blkbench: done") == std::string::npos)
        die("the blkbench guest did not finish; its console:\n" + console);
    std::map<std::string, double> out;
    for (const Phase& p : kPhases) {
        if (start.count(p.name) == 0 || end.count(p.name) == 0) die(std::string("phase ") + p.name + " was not timed");
        out[p.name] = seconds_between(start[p.name], end[p.name]);
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    return guarded_main("virtio_blk", [&] {
        const auto seq_mib = static_cast<uint64_t>(arg_long(argc, argv, "seq-mib", 128));
        const auto rand_ops = static_cast<uint64_t>(arg_long(argc, argv, "rand-ops", 20000));
        const long runs = arg_long(argc, argv, "runs", 3);
        const char* dir_env = std::getenv("HV_BENCH_DIR");
        const std::string dir = dir_env != nullptr && *dir_env != 0 ? dir_env : "/var/tmp";
        const std::string path = dir + "/hv-bench-blk-" + std::to_string(::getpid()) + ".img";
        struct Remove {
            std::string p;
            ~Remove() { ::unlink(p.c_str()); }
        } remove{path};
        {
            const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0) die("create " + path + ": " + std::strerror(errno));
            // Allocated, not sparse: both sides read real blocks.
            const int e = ::posix_fallocate(fd, 0, static_cast<off_t>(seq_mib * kBig));
            ::close(fd);
            if (e != 0) die("posix_fallocate: " + std::string(std::strerror(e)));
        }
        auto m = open_monitor();
        std::map<std::string, std::vector<double>> ours, base;
        for (long r = 0; r < runs; ++r) {
            // Side by side: one of each per round.
            for (const auto& [name, s] : hv_run(*m, path, seq_mib, rand_ops)) ours[name].push_back(s);
            for (const Phase& p : kPhases)
                base[p.name].push_back(host_phase(path, p, p.bytes == kBig ? seq_mib : rand_ops, seq_mib * kBig));
        }
        for (const Phase& p : kPhases) {
            const double n = p.bytes == kBig ? static_cast<double>(seq_mib) : static_cast<double>(rand_ops);
            std::printf("%s: hv %s s, host O_DIRECT %s s (%g requests of %u bytes, depth %u)\n", p.name, spread(ours[p.name], 1).c_str(),
                        spread(base[p.name], 1).c_str(), n, p.bytes, p.depth);
        }
        // Throughput: work / median time, so ratio = baseline time / our time.
        const auto result = [&](const char* label, const char* phase, double work, const char* unit) {
            const double o = work / median(ours[phase]), b = work / median(base[phase]);
            std::printf("RESULT %s ratio=%.2f ours=%.1f%s baseline=%.1f%s\n", label, o / b, o, unit, b, unit);
        };
        result("virtio_blk_seq_write", "seqwrite", static_cast<double>(seq_mib), "MiB/s");
        result("virtio_blk_seq_read", "seqread", static_cast<double>(seq_mib), "MiB/s");
        result("virtio_blk_rand_read_iops", "randread", static_cast<double>(rand_ops), "IOPS");
        std::fflush(stdout);
    });
}
