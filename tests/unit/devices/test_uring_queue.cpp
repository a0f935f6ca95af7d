// UringQueue and RawFile's asynchronous path: transfers started together
// end with their results; a short or failed one is flagged for the slow
// way, which RawFile then takes (and which words the error); the queue
// holds at most kDepth.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "devices/block/raw_file.hpp"
#include "devices/block/uring_queue.hpp"

using hv::dev::BlockIo;
using hv::dev::UringQueue;

namespace {

// A 64 KiB file whose byte i is i % 251.
struct PatternFile {
    std::string path;
    PatternFile() {
        char t[] = "/tmp/hv-uring-XXXXXX";
        const int fd = ::mkstemp(t);
        REQUIRE(fd >= 0);
        path = t;
        std::vector<uint8_t> bytes(65536);
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i % 251);
        REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
        ::close(fd);
    }
    ~PatternFile() { ::unlink(path.c_str()); }
};

// io_uring may be filtered out (a container's seccomp profile): then
// there is nothing here to test, and RawFile does its transfers itself.
std::unique_ptr<UringQueue> queue_or_skip() {
    auto q = UringQueue::create();
    if (!q) WARN("no io_uring here: " << q.error().message);
    return q ? std::move(*q) : nullptr;
}

} // namespace

TEST_CASE("uring queue: reads started together all end, each with its own data", "[uring]") {
    PatternFile f;
    auto q = queue_or_skip();
    if (!q) return;
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::vector<std::vector<uint8_t>> bufs(3, std::vector<uint8_t>(4096));
    std::vector<iovec> iov(3);
    std::vector<BlockIo> ios(3);
    for (uint32_t i = 0; i < 3; ++i) {
        iov[i] = iovec{bufs[i].data(), bufs[i].size()};
        ios[i] = BlockIo{false, &iov[i], 1, 8192ull * i, i, {}};
        REQUIRE(q->start(fd, ios[i]));
    }
    CHECK(q->in_flight() == 3);
    std::set<uint32_t> ended;
    for (int n = 0; n < 3; ++n) {
        bool complete = false;
        BlockIo* io = q->wait(true, complete);
        REQUIRE(io != nullptr);
        CHECK(complete);
        CHECK(io->result);
        ended.insert(io->tag);
    }
    CHECK(ended == std::set<uint32_t>{0, 1, 2});
    for (uint32_t i = 0; i < 3; ++i)
        for (size_t b = 0; b < 4096; b += 1000) CHECK(bufs[i][b] == static_cast<uint8_t>((8192 * i + b) % 251));
    bool complete = true;
    CHECK(q->wait(true, complete) == nullptr); // none in flight
    CHECK(q->wait(false, complete) == nullptr);
    ::close(fd);
}

TEST_CASE("uring queue: a short read and a failed write are flagged, not completed", "[uring]") {
    PatternFile f;
    auto q = queue_or_skip();
    if (!q) return;
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::vector<uint8_t> a(8192), b(512);
    iovec va{a.data(), a.size()}, vb{b.data(), b.size()};
    BlockIo past_end{false, &va, 1, 65536 - 4096, 0, {}}; // half of it past the end
    BlockIo to_read_only{true, &vb, 1, 0, 1, {}};         // EBADF: opened read-only
    past_end.result = hv::make_error(hv::Errc::io_error, "not yet");
    to_read_only.result = hv::make_error(hv::Errc::io_error, "not yet");
    REQUIRE(q->start(fd, past_end));
    REQUIRE(q->start(fd, to_read_only));
    for (int n = 0; n < 2; ++n) {
        bool complete = true;
        BlockIo* io = q->wait(true, complete);
        REQUIRE(io != nullptr);
        CHECK(!complete);
        CHECK(!io->result); // left for the caller
    }
    CHECK(q->in_flight() == 0);
    ::close(fd);
}

TEST_CASE("uring queue: at most kDepth transfers are queued", "[uring]") {
    PatternFile f;
    auto q = queue_or_skip();
    if (!q) return;
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::vector<uint8_t> buf(512);
    iovec v{buf.data(), buf.size()};
    std::vector<BlockIo> ios(UringQueue::kDepth + 1, BlockIo{false, &v, 1, 0, 0, {}});
    for (unsigned i = 0; i < UringQueue::kDepth; ++i) REQUIRE(q->start(fd, ios[i]));
    CHECK(!q->start(fd, ios[UringQueue::kDepth]));
    bool complete = false;
    while (q->wait(true, complete) != nullptr) {
    }
    CHECK(q->in_flight() == 0);
    ::close(fd);
}

TEST_CASE("raw file: started transfers end with results; one past the end is redone and refused", "[uring][raw_file]") {
    PatternFile f;
    auto file = hv::dev::RawFile::open(f.path, false);
    REQUIRE(file);
    std::vector<uint8_t> a(4096, 0), w(4096, 0x77), past(8192);
    iovec va{a.data(), a.size()}, vw{w.data(), w.size()}, vp{past.data(), past.size()};
    BlockIo read{false, &va, 1, 4096, 0, {}}, write{true, &vw, 1, 32768, 1, {}}, beyond{false, &vp, 1, 65536 - 4096, 2, {}};
    bool async = (*file)->start(read);
    if (!async) { // no io_uring: RawFile says so, and the caller does it
        WARN("no io_uring here");
        return;
    }
    REQUIRE((*file)->start(write));
    REQUIRE((*file)->start(beyond));
    std::set<uint32_t> ended;
    for (int n = 0; n < 3; ++n) {
        BlockIo* io = (*file)->wait_any(true);
        REQUIRE(io != nullptr);
        ended.insert(io->tag);
        if (io->tag == 2) {
            REQUIRE(!io->result);
            CHECK(io->result.error().message.find("past the end of the file") != std::string::npos);
        } else {
            CHECK(io->result);
        }
    }
    CHECK(ended == std::set<uint32_t>{0, 1, 2});
    CHECK((*file)->wait_any(true) == nullptr);
    CHECK(a[0] == static_cast<uint8_t>(4096 % 251));
    std::vector<uint8_t> back(4096);
    iovec vb{back.data(), back.size()};
    REQUIRE((*file)->read(&vb, 1, 32768));
    CHECK(back == w);
}
