// hvd against hostile or careless members and faults (issue 6): names and
// paths, identity, limits, waits and timeouts, dead and stopped domain
// processes. Each case here failed on the daemon before the hardening.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <future>
#include <mutex>

#include "hvctl_runner.hpp"
#include "hvd_harness.hpp"

using namespace hvtest;
using hv::sdk::Connection;
using hv::sdk::ShutdownReason;
using hv::sdk::State;
namespace fs = std::filesystem;
namespace wire = hv::sdk::wire;

namespace {

// Memory figures under AddressSanitizer (shadow memory, quarantine) are
// several times the plain build's.
#if defined(__SANITIZE_ADDRESS__)
constexpr long kRssScale = 4;
#else
constexpr long kRssScale = 1;
#endif

// Runs fn in a child with other credentials; its exit status.
template <class F>
int as_user(uid_t uid, gid_t gid, std::vector<gid_t> groups, F fn) {
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) _exit(99);
        _exit(fn());
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string lookup_payload(const std::string& name) {
    hv_ctl_lookup_t l{};
    std::memcpy(l.name, name.data(), std::min(name.size(), sizeof l.name - 1));
    return wire::pack(l);
}

} // namespace

TEST_CASE("a name from the wire never reaches a path: delete ../../victim refuses", "[hvd][hardening][bad-input]") {
    HvdProcess hvd;
    const fs::path victim = hvd.dir() / "victim.hvdom";
    { std::ofstream(victim) << "precious"; }
    const int fd = raw_connect(hvd.socket());
    REQUIRE(roundtrip(fd, hello())->header.status == HV_OK);
    for (const std::string name : {"../../victim", "../victim", "..", "a/b"}) {
        auto r = roundtrip(fd, request(HV_DOMCTL_UNDEFINE, lookup_payload(name)));
        REQUIRE(r);
        CHECK(r->header.status == HV_EINVAL);
        CHECK(r->payload.find(name) != std::string::npos);
        r = roundtrip(fd, request(HV_DOMCTL_START, lookup_payload(name)));
        REQUIRE(r);
        CHECK(r->header.status == HV_EINVAL);
    }
    ::close(fd);
    CHECK(fs::exists(victim));
    // hvctl refuses it before it leaves the client, with the same rule.
    TempDir tmp;
    auto out = hvctl(tmp, "--connect " + hvd.uri() + " delete ../../victim");
    CHECK(out.status == 1);
    CHECK(out.err.find("'../../victim'") != std::string::npos);
    CHECK(fs::exists(victim));
}

TEST_CASE("domids are never reused while their domain lives, across the counter's wrap", "[kvm][hvd][hardening]") {
    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto old = conn->create(hello_request("old", "stay"));
    REQUIRE(old);
    REQUIRE(wait_history(*old, "hello: 1 vcpus up"));
    const uint32_t old_id = old->id();
    // Force the shared counter to its last ids: the next creates wrap.
    { std::ofstream(fs::path(hvd.state_dir()) / "domid.next") << "32750\n"; }
    auto a = conn->create(hello_request("a", "stay"));
    REQUIRE(a);
    CHECK(a->id() == 32750);
    auto b = conn->create(hello_request("b", "stay"));
    REQUIRE(b);
    CHECK(b->id() == 32751);
    auto c = conn->create(hello_request("c", "stay")); // wraps to 1, which "old" holds
    REQUIRE(c);
    CHECK(c->id() != old_id);
    CHECK(c->id() >= 1);
    CHECK(c->id() < 32750);
    REQUIRE(c->destroy());
    auto info = old->info();
    REQUIRE(info);
    CHECK(info->name == "old");
    CHECK(info->state != State::dying);
    for (auto& d : {*a, *b, *old}) CHECK(d.destroy());
}

TEST_CASE("names stay unique when creates race renames", "[kvm][hvd][hardening]") {
    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto mover = conn->create(hello_request("mover", "stay"));
    REQUIRE(mover);
    for (int round = 0; round < 20; ++round) {
        const std::string name = fmt::format("race-{}", round);
        auto created = std::async(std::launch::async, [&] { return Connection::open(hvd.uri())->create(hello_request(name, "stay")); });
        auto renamed = std::async(std::launch::async, [&] { return Connection::open(hvd.uri())->domain(std::to_string(mover->id()))->rename(name); });
        auto c = created.get();
        auto r = renamed.get();
        CHECK((static_cast<bool>(c) != static_cast<bool>(r))); // exactly one of them got the name
        auto list = conn->list();
        REQUIRE(list);
        CHECK(std::count_if(list->begin(), list->end(), [&](const auto& d) { return d.name == name; }) == 1);
        if (c) REQUIRE(c->destroy());
        else REQUIRE(mover->rename("mover"));
    }
    REQUIRE(mover->destroy());
}

TEST_CASE("one hvd per state dir: a second one exits at once naming the holder", "[hvd][hardening]") {
    HvdProcess hvd;
    const std::string second = (hvd.dir() / "second.sock").string();
    TempDir tmp;
    auto out = run_shell(tmp, fmt::format("'{}' --socket '{}' --state-dir '{}'", env_path("HVD"), second, hvd.state_dir()));
    CHECK(out.status == 1);
    CHECK(out.err.find("in use by hvd pid " + std::to_string(hvd.pid())) != std::string::npos);
    CHECK_FALSE(fs::exists(second));
    CHECK(Connection::open(hvd.uri())->list());
}

TEST_CASE("a refused peer is told why, naming the group; members are checked by their process's groups",
          "[hvd][hardening][bad-input]") {
    const group* g = ::getgrnam("nogroup");
    REQUIRE(g != nullptr);
    HvdProcess hvd({"--group", "nogroup"});
    ::chmod(hvd.dir().c_str(), 0755);
    // A stranger: the refusal names the group, never "Broken pipe"; first
    // from the socket's mode, then (socket opened up) from hvd's check.
    const auto stranger = [&] {
        return as_user(65534, 1, {}, [&] {
            auto conn = Connection::open(hvd.uri());
            if (conn) return 1;
            if (conn.error().code != hv::Errc::permission_denied) return 2;
            return conn.error().message.find("group 'nogroup'") != std::string::npos ? 0 : 3;
        });
    };
    CHECK(stranger() == 0);
    ::chmod(hvd.socket().c_str(), 0666);
    CHECK(stranger() == 0);
    // A member through a supplementary group its process holds.
    const int member = as_user(65534, 1, {g->gr_gid}, [&] { return Connection::open(hvd.uri()) ? 0 : 1; });
    CHECK(member == 0);
}

namespace {

// Creates a domain from `config_text` as uid 65534 in group `gid` (a
// member): the child's exit code (0 created, 1 refused, 2 no connection)
// and what it was told.
std::pair<int, std::string> create_as_member(const HvdProcess& hvd, gid_t gid, const std::string& config_text) {
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    const int rc = as_user(65534, 1, {gid}, [&] {
        auto conn = Connection::open(hvd.uri());
        if (!conn) return 2;
        auto req = hello_request("member", "poweroff");
        req.config_text = config_text;
        auto d = conn->create(req);
        const std::string msg = d ? std::string("created") : d.error().message;
        [[maybe_unused]] auto n = ::write(pipefd[1], msg.data(), msg.size());
        return d ? 0 : 1;
    });
    ::close(pipefd[1]);
    char buf[1024];
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    ::close(pipefd[0]);
    return {rc, n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string()};
}

} // namespace

TEST_CASE("a member learns nothing about files it could not read itself", "[kvm][hvd][hardening][bad-input]") {
    const group* g = ::getgrnam("nogroup");
    REQUIRE(g != nullptr);
    HvdProcess hvd({"--group", "nogroup"});
    ::chmod(hvd.dir().c_str(), 0755);
    const fs::path secret = hvd.dir() / "secret.elf";
    fs::copy_file(hello_guest(), secret);
    ::chmod(secret.c_str(), 0600);
    const fs::path missing = hvd.dir() / "missing.elf";
    auto create_as_member_kernel = [&](const std::string& kernel, std::string& message) {
        auto [rc, msg] = create_as_member(hvd, g->gr_gid, fmt::format("name='member'\nkernel='{}'\nmemory=16\n", kernel));
        message = msg;
        return rc;
    };
    std::string unreadable, absent;
    CHECK(create_as_member_kernel(secret.string(), unreadable) == 1);
    CHECK(create_as_member_kernel(missing.string(), absent) == 1);
    INFO(unreadable);
    INFO(absent);
    CHECK(unreadable.find("cannot open it") != std::string::npos);
    // The two refusals differ only in the path.
    std::string a = unreadable, b = absent;
    a.replace(a.find(secret.string()), secret.string().size(), "X");
    b.replace(b.find(missing.string()), missing.string().size(), "X");
    CHECK(a == b);
    CHECK(Connection::open(hvd.uri())->list()->empty());
}

TEST_CASE("a member's qcow2 disk may not name a backing file the member cannot read", "[kvm][hvd][hardening][bad-input]") {
    const group* g = ::getgrnam("nogroup");
    REQUIRE(g != nullptr);
    HvdProcess hvd({"--group", "nogroup"});
    ::chmod(hvd.dir().c_str(), 0755);
    const fs::path secret = hvd.dir() / "secret.raw", open_base = hvd.dir() / "base.raw";
    const fs::path overlay = hvd.dir() / "overlay.qcow2", fine = hvd.dir() / "fine.qcow2";
    for (const auto& [base, top] : {std::pair{secret, overlay}, std::pair{open_base, fine}}) {
        const std::string cmd = fmt::format("truncate -s 1M '{}' && qemu-img create -q -f qcow2 -b '{}' -F raw '{}'", base.string(),
                                            base.string(), top.string());
        REQUIRE(std::system(cmd.c_str()) == 0);
        ::chmod(top.c_str(), 0666);
    }
    ::chmod(secret.c_str(), 0600);
    ::chmod(open_base.c_str(), 0644);
    auto create_with_disk = [&](const fs::path& disk) {
        return create_as_member(hvd, g->gr_gid,
                                fmt::format("name='member'\nkernel='{}'\nmemory=16\ndisk=['qcow2:{},xvda,w']\n", hello_guest(), disk.string()))
            .second;
    };
    const std::string refused = create_with_disk(overlay);
    INFO(refused);
    CHECK(refused.find("backing file of disk 1 (xvda) '" + secret.string() + "'") != std::string::npos);
    CHECK(refused.find("cannot open it") != std::string::npos);
    // With a base the member may read, the check passes (the create then
    // fails for its own reason: hv's PV machine has no disks).
    const std::string passed = create_with_disk(fine);
    INFO(passed);
    CHECK(passed.find("backing file") == std::string::npos);
    CHECK(passed.find("cannot open it") == std::string::npos);
    CHECK(Connection::open(hvd.uri())->list()->empty());
}

TEST_CASE("a console subscriber that never reads does not grow hvd; console output is coalesced",
          "[kvm][hvd][hardening]") {
    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto req = hello_request("chatty", "stay chatter=200000", 1);
    req.paused = true; // subscribers first
    auto d = conn->create(req);
    REQUIRE(d);
    // A subscriber that never reads.
    const int sleeper = raw_connect(hvd.socket());
    int small = 4096;
    ::setsockopt(sleeper, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    REQUIRE(roundtrip(sleeper, hello())->header.status == HV_OK);
    REQUIRE(roundtrip(sleeper, request(HV_SYSCTL_SUBSCRIBE, wire::pack(hv_ctl_subscribe_t{HV_CTL_SUB_CONSOLE, d->id()})))->header.status == HV_OK);
    // A reader that counts frames against bytes (one decoder for all it reads).
    const int reader = raw_connect(hvd.socket());
    const std::string sub = hello() + request(HV_SYSCTL_SUBSCRIBE, wire::pack(hv_ctl_subscribe_t{HV_CTL_SUB_CONSOLE, d->id()}));
    ::send(reader, sub.data(), sub.size(), MSG_NOSIGNAL);
    REQUIRE(d->unpause());
    size_t frames = 0, bytes = 0;
    std::string text;
    wire::Decoder dec;
    while (text.find("hello: chatter 200000 done") == std::string::npos) {
        char buf[65536];
        const ssize_t n = ::recv(reader, buf, sizeof buf, 0);
        REQUIRE(n > 0);
        dec.feed(buf, static_cast<size_t>(n));
        wire::Frame f;
        while (dec.next(f) == wire::Decoder::Status::frame) {
            if (f.header.kind != HV_CTL_EVENT || f.header.op != HV_CTL_EVENT_CONSOLE) continue;
            ++frames;
            bytes += f.payload.size() - sizeof(hv_ctl_domid_t);
            text.append(f.payload.substr(sizeof(hv_ctl_domid_t)));
            if (text.size() > 4096) text.erase(0, text.size() - 4096);
        }
    }
    CHECK(bytes > 200000);
    INFO(frames << " frames for " << bytes << " bytes");
    CHECK(frames * 10 < bytes); // many bytes per frame, not one frame per guest byte
    const long hwm_kib = proc_status(hvd.pid(), "VmHWM");
    INFO("hvd peak RSS KiB " << hwm_kib);
    CHECK(hwm_kib < kRssScale * 64 * 1024); // the sleeper's backlog is capped (1 MiB)
    // Reading now, the sleeper finds the drop marker (or all of it).
    CHECK(Connection::open(hvd.uri())->list());
    ::close(reader);
    ::close(sleeper);
    REQUIRE(d->destroy());
}

TEST_CASE("pipelined requests beyond the output cap are refused, and others are served meanwhile", "[hvd][hardening]") {
    HvdProcess hvd;
    const int fd = raw_connect(hvd.socket());
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    REQUIRE(roundtrip(fd, hello())->header.status == HV_OK);
    // Requests for seconds, never reading a reply: hvd answers until the
    // unread replies reach its cap, then refuses, then cuts the peer off.
    const std::string one = request(HV_SYSCTL_DMESG, {});
    std::string burst;
    for (int i = 0; i < 1000; ++i) burst += one;
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    // Until hvd stops reading (its queue of unread replies is full: it
    // has refused and throttles us), seen as a send buffer that stays full
    // for a second; at most 8 s, below its 10 s half-frame timeout, after
    // which it would cut us off and the queued refusal would be lost.
    size_t sent = 0;
    const auto start = std::chrono::steady_clock::now();
    auto full_since = start;
    bool full = false;
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(8)) {
        const ssize_t n = ::send(fd, burst.data() + sent % burst.size(), burst.size() - sent % burst.size(), MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<size_t>(n);
            full = false;
        } else if (errno == EAGAIN) {
            if (!full) full_since = std::chrono::steady_clock::now();
            full = true;
            if (std::chrono::steady_clock::now() - full_since > std::chrono::seconds(1)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        } else {
            break;
        }
    }
    INFO("sent " << sent << " bytes in "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count()
                 << " ms; last errno " << errno);
    CHECK(sent > 0);
    // Others are served meanwhile.
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    CHECK(conn->list());
    CHECK(proc_status(hvd.pid(), "VmHWM") < kRssScale * 64 * 1024);
    // Reading now: the refusals are there, named.
    ::fcntl(fd, F_SETFL, 0);
    const timeval patience{10, 0}; // a missing refusal fails the test, never hangs it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    wire::Decoder dec;
    bool refused = false;
    for (int reads = 0; reads < 100000 && !refused; ++reads) {
        char buf[65536];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        dec.feed(buf, static_cast<size_t>(n));
        wire::Frame f;
        while (dec.next(f) == wire::Decoder::Status::frame)
            if (f.header.status == HV_EBUSY && f.payload.find("unread") != std::string::npos) refused = true;
    }
    CHECK(refused);
    ::close(fd);
}

TEST_CASE("the connection limit, half-sent frames and EMFILE never lock clients out", "[hvd][hardening]") {
    HvdProcess hvd({"--max-connections", "8", "--frame-timeout-ms", "300"});
    std::vector<int> fds;
    for (int i = 0; i < 8; ++i) {
        fds.push_back(raw_connect(hvd.socket()));
        REQUIRE(roundtrip(fds.back(), hello())->header.status == HV_OK);
    }
    auto over = Connection::open(hvd.uri());
    REQUIRE_FALSE(over);
    CHECK(over.error().message.find("limit of 8 connections") != std::string::npos);
    ::close(fds.back());
    fds.pop_back();
    CHECK(eventually([&] { return static_cast<bool>(Connection::open(hvd.uri())); }));
    // Half a frame: closed after the frame timeout, freeing its slot.
    const int half = fds.back();
    const std::string frame = request(HV_DOMCTL_LIST, {});
    ::send(half, frame.data(), 10, MSG_NOSIGNAL);
    char c;
    CHECK(::recv(half, &c, 1, 0) == 0); // closed by hvd
    for (int fd : fds) ::close(fd);
}

TEST_CASE("at EMFILE clients are told why, hvd backs off, and serves again once descriptors are free", "[hvd][hardening]") {
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's runtime needs descriptors of its own in hvd (its
    // reports, /proc/self/maps); at EMFILE that is what fails, not hvd.
    WARN("skipped under AddressSanitizer");
    return;
#endif
    HvdProcess hvd;
    std::vector<int> fds;
    rlimit rl{};
    REQUIRE(::prlimit(hvd.pid(), RLIMIT_NOFILE, nullptr, &rl) == 0);
    long open_now = 0;
    for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(hvd.pid()) + "/fd")) (void)e, ++open_now;
    rlimit tight{static_cast<rlim_t>(open_now + 4), rl.rlim_max};
    REQUIRE(::prlimit(hvd.pid(), RLIMIT_NOFILE, &tight, nullptr) == 0);
    bool told = false;
    for (int i = 0; i < 7; ++i) {
        const int fd = raw_connect(hvd.socket());
        auto r = roundtrip(fd, hello());
        if (r && r->header.status == HV_EBUSY) told = r->payload.find("file descriptors") != std::string::npos || told;
        fds.push_back(fd);
    }
    CHECK(told);
    const long cpu_before = proc_status(hvd.pid(), "voluntary_ctxt_switches");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(proc_status(hvd.pid(), "voluntary_ctxt_switches") - cpu_before < 200); // backs off, not a busy loop
    for (int fd : fds) ::close(fd);
    REQUIRE(::prlimit(hvd.pid(), RLIMIT_NOFILE, &rl, nullptr) == 0);
    CHECK(eventually([&] { return static_cast<bool>(Connection::open(hvd.uri())); }));
}

TEST_CASE("100 waiters hold no thread: list answers meanwhile, SIGTERM exits at once", "[kvm][hvd][hardening]") {
    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto d = conn->create(hello_request("waited", "stay"));
    REQUIRE(d);
    const long threads_before = proc_status(hvd.pid(), "Threads");
    // Each waiter on its own connection (looked up here, so a late one
    // still knows its domain and gets its last word).
    std::vector<hv::sdk::Domain> handles;
    for (int i = 0; i < 100; ++i) {
        auto c = Connection::open(hvd.uri());
        REQUIRE(c);
        auto h = c->domain("waited");
        REQUIRE(h);
        handles.push_back(*h);
    }
    std::vector<std::future<hv::Result<hv::sdk::DomainInfo>>> waiters;
    for (auto& h : handles) waiters.push_back(std::async(std::launch::async, [h] { return h.wait(60000); }));
    CHECK(eventually([&] { return proc_status(hvd.pid(), "Threads") == threads_before; }));
    for (int i = 0; i < 10; ++i) CHECK(conn->list());
    CHECK(proc_status(hvd.pid(), "Threads") == threads_before);
    REQUIRE(d->shutdown({ShutdownReason::poweroff, false, 0, false}));
    for (auto& w : waiters) {
        auto r = w.get();
        REQUIRE(r);
        CHECK(r->shutdown_reason == ShutdownReason::poweroff);
    }
    // More waiters, then SIGTERM: hvd exits promptly.
    auto e = conn->create(hello_request("waited2", "stay"));
    REQUIRE(e);
    std::vector<std::future<hv::Result<hv::sdk::DomainInfo>>> more;
    for (int i = 0; i < 20; ++i) {
        auto c = Connection::open(hvd.uri());
        REQUIRE(c);
        auto h = c->domain("waited2");
        REQUIRE(h);
        more.push_back(std::async(std::launch::async, [h = *h] { return h.wait(60000); }));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(hvd.stop(SIGTERM) == 0); // exits (a hang would end the test run), cleanly
    for (auto& w : more) CHECK_FALSE(w.get()); // their connection ended
    hvd.start();
    auto again = Connection::open(hvd.uri());
    REQUIRE(again);
    // Re-attached at once, or (a loaded machine) when its process answers.
    REQUIRE(eventually([&] { return static_cast<bool>(again->domain("waited2")); }));
    REQUIRE(again->domain("waited2")->destroy());
}

TEST_CASE("a stopped domain process shows as unresponsive and never hangs list, dmesg, console or a restarted hvd",
          "[kvm][hvd][hardening]") {
    HvdProcess hvd({"--call-timeout-ms", "1000"});
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto frozen = conn->create(hello_request("frozen", "stay"));
    REQUIRE(frozen);
    auto fine = conn->create(hello_request("fine", "stay"));
    REQUIRE(fine);
    REQUIRE(wait_history(*fine, "hello: 1 vcpus up"));
    EventLog events(*conn);
    // The process holding "frozen" writes its log to frozen.log.
    pid_t target = 0;
    for (pid_t p : hvd.domain_processes())
        if (fs::read_symlink("/proc/" + std::to_string(p) + "/fd/1").filename() == "frozen.log") target = p;
    REQUIRE(target != 0);
    REQUIRE(::kill(target, SIGSTOP) == 0);
    auto list = conn->list();
    REQUIRE(list);
    REQUIRE(list->size() == 2);
    for (const auto& i : *list) CHECK(i.unresponsive == (i.name == "frozen"));
    CHECK(conn->dmesg());
    CHECK(fine->console_history()->find("hello from domain") != std::string::npos);
    auto r = frozen->pause();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == hv::Errc::timed_out);
    CHECK(eventually([&] {
        return events.count([&](const auto& e) { return e.kind == hv::sdk::Event::Kind::unresponsive && e.domid == frozen->id(); }) > 0;
    }));
    events.stop();
    // A restarted hvd starts and serves while it does not answer.
    CHECK(hvd.stop(SIGTERM) == 0);
    hvd.start();
    auto again = Connection::open(hvd.uri());
    REQUIRE(again);
    CHECK(again->list());
    REQUIRE(::kill(target, SIGCONT) == 0);
    // hvd serves after 3 s of re-attaching; while "frozen" holds that time
    // up, "fine" may join later too on a loaded machine.
    for (const char* name : {"frozen", "fine"}) {
        REQUIRE(eventually([&] { return static_cast<bool>(again->domain(name)); }));
        CHECK(again->domain(name)->destroy());
    }
}

TEST_CASE("a domain process that dies is a crash, with events and its on_crash action", "[kvm][hvd][hardening]") {
    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto req = hello_request("kept", "stay");
    req.config_text += "on_crash='preserve'\n";
    auto kept = conn->create(req);
    REQUIRE(kept);
    auto gone = conn->create(hello_request("gone", "stay"));
    REQUIRE(gone);
    // Through an hvd restart: the new hvd learns their on_crash too (from
    // the request files it writes beside the sockets just after a create).
    CHECK(eventually([&] {
        size_t n = 0;
        for (const auto& e : fs::directory_iterator(fs::path(hvd.state_dir()) / "run")) n += e.path().extension() == ".req";
        return n == 2;
    }));
    CHECK(hvd.stop(SIGKILL) == 128 + SIGKILL);
    hvd.start();
    conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    // hvd serves after 3 s of re-attaching even if a process has not
    // answered yet (docs/security.md); on a loaded machine one may join
    // later: hvd asks it again every 5 s, so allow a few rounds.
    REQUIRE(eventually([&] { return conn->list()->size() == 2; }, 3000));
    kept = conn->domain("kept");
    REQUIRE(kept);
    EventLog events(*conn);
    auto waiter = std::async(std::launch::async, [&] { return Connection::open(hvd.uri())->domain("gone")->wait(30000); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (pid_t p : hvd.domain_processes()) ::kill(p, SIGKILL);
    auto w = waiter.get();
    REQUIRE(w);
    CHECK(w->shutdown_reason == ShutdownReason::crash);
    CHECK_FALSE(w->exists);
    CHECK(eventually([&] {
        return events.count([](const auto& e) { return e.kind == hv::sdk::Event::Kind::shutdown && e.reason == ShutdownReason::crash; }) == 2 &&
               events.count([](const auto& e) { return e.kind == hv::sdk::Event::Kind::destroyed && e.name == "gone"; }) == 1;
    }));
    auto list = conn->list();
    REQUIRE(list);
    REQUIRE(list->size() == 1); // on_crash=preserve keeps "kept", crashed
    CHECK((*list)[0].name == "kept");
    CHECK((*list)[0].state == State::crashed);
    // shutdown -w on it reports the crash; destroy removes it.
    TempDir tmp;
    auto out = hvctl(tmp, "--connect " + hvd.uri() + " shutdown -w kept");
    CHECK(out.status != 0);
    REQUIRE(kept->destroy());
    CHECK(conn->list()->empty());
}

TEST_CASE("a domain made from a typed spec is restarted from it when its process dies, across an hvd restart",
          "[kvm][hvd][hardening][sdk]") {
    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    hv::sdk::DomainSpec spec;
    spec.name = "typed";
    spec.kernel = hello_guest();
    spec.memory_mib = 16;
    spec.vcpus = 2;
    spec.cmdline = "stay";
    spec.on_crash = hv::sdk::Action::restart;
    auto d = conn->create(spec);
    REQUIRE(d);
    const uint32_t first = d->id();
    CHECK(eventually([&] {
        for (const auto& e : fs::directory_iterator(fs::path(hvd.state_dir()) / "run"))
            if (e.path().extension() == ".req") return true;
        return false;
    }));
    CHECK(hvd.stop(SIGKILL) == 128 + SIGKILL);
    hvd.start();
    conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    REQUIRE(conn->domain("typed"));
    for (pid_t p : hvd.domain_processes()) ::kill(p, SIGKILL);
    // Recreated from the kept spec: same name, a new domid, its 2 vCPUs.
    REQUIRE(eventually([&] {
        auto again = conn->domain("typed");
        return again && again->id() != first && again->info() && again->info()->vcpus == 2;
    }, 2000));
    auto again = conn->domain("typed");
    REQUIRE(again);
    CHECK(wait_history(*again, "hello: 2 vcpus up"));
    REQUIRE(again->destroy());
}

TEST_CASE("a domain process that dies at start is reported at once with its reason", "[hvd][hardening]") {
    HvdProcess hvd({"--domain-binary", "/bin/false"});
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto d = conn->create(hello_request("never", "stay"));
    REQUIRE_FALSE(d);
    // Its exit status: seen on the readiness pipe, not guessed after a wait.
    CHECK(d.error().message.find("exited at start (exit status 1)") != std::string::npos);
    CHECK(conn->list()->empty());
    CHECK(conn->create(hello_request("never", "stay")).error().message.find("exited at start") != std::string::npos);
}

TEST_CASE("a domain-less process exits by itself and is never re-attached", "[hvd][hardening]") {
    HvdProcess hvd;
    const fs::path dom = fs::path(env_path("HVD")).parent_path() / "hv-domain";
    // Cut off mid-create: nobody creates a domain in it, so it exits.
    const std::string sock1 = hvd.state_dir() + "/run/orphan-1.sock";
    TempDir tmp;
    auto quick = run_shell(tmp, fmt::format("'{}' --socket '{}' --state-dir '{}' --create-deadline-ms 300", dom.string(), sock1,
                                            hvd.state_dir()));
    CHECK(quick.status == 0);
    CHECK(quick.err.find("no domain created and nobody connected") != std::string::npos);
    // One left behind when hvd restarts: ended, not adopted.
    const std::string sock2 = hvd.state_dir() + "/run/orphan-2.sock";
    const pid_t orphan = ::fork();
    if (orphan == 0) {
        execl(dom.c_str(), "hv-domain", "--socket", sock2.c_str(), "--state-dir", hvd.state_dir().c_str(),
              "--create-deadline-ms", "60000", static_cast<char*>(nullptr));
        _exit(127);
    }
    REQUIRE(eventually([&] { return HvdProcess::accepts(sock2); }));
    CHECK(hvd.stop(SIGTERM) == 0);
    hvd.start();
    CHECK(Connection::open(hvd.uri())->list()->empty());
    int status = 0;
    CHECK(eventually([&] { return ::waitpid(orphan, &status, WNOHANG) == orphan; }));
}

TEST_CASE("dmesg is in time order and keeps a domain's lines after its process exits", "[kvm][hvd][hardening]") {
    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto d = conn->create(hello_request("brief", "poweroff"));
    REQUIRE(d);
    REQUIRE(d->wait(20000));
    CHECK(eventually([&] { return hvd.domain_processes().empty(); }));
    auto lines = conn->dmesg();
    REQUIRE(lines);
    bool kept = false;
    for (const auto& l : *lines) kept = kept || (l.find("[process") != std::string::npos && l.find("brief") != std::string::npos);
    CHECK(kept);
    for (size_t i = 1; i < lines->size(); ++i) CHECK((*lines)[i - 1].compare(0, 25, (*lines)[i], 0, 25) <= 0);
    for (const auto& l : *lines) CHECK(l.find("[error]") == std::string::npos); // a normal exit logs no error
}

TEST_CASE("what a new user trips on: warnings through hvd, new without -f, managed domains in list", "[kvm][hvd][hardening][hvctl]") {
    HvdProcess hvd;
    TempDir tmp;
    const std::string cfg = tmp.write("typo.cfg", fmt::format("name='typo'\nkernel='{}'\nmemory=16\nmemroy=32\nextra='poweroff'\n",
                                                              hello_guest()));
    const std::string via = "--connect " + hvd.uri() + " ";
    // A mistyped key is never silent, through hvd as embedded.
    auto created = hvctl(tmp, via + "create " + cfg);
    CHECK(created.status == 0);
    CHECK(created.err.find("typo.cfg:4:1: memroy: unknown key (ignored)") != std::string::npos);
    // new refuses a stored name unless -f.
    CHECK(hvctl(tmp, via + "new " + cfg).status == 0);
    auto again = hvctl(tmp, via + "new " + cfg);
    CHECK(again.status == 1);
    CHECK(again.err.find("exists") != std::string::npos);
    CHECK(hvctl(tmp, via + "new -f " + cfg + " memory=32").status == 0);
    // list and list NAME show the managed domain that is not running.
    CHECK(eventually([&] { return Connection::open(hvd.uri())->list()->empty(); }));
    auto listed = hvctl(tmp, via + "list");
    CHECK(listed.out.find("\ntypo\n") != std::string::npos);
    auto named = hvctl(tmp, via + "list typo");
    CHECK(named.status == 0);
    CHECK(named.out.find("\ntypo\n") != std::string::npos);
    auto json = hvctl(tmp, via + "list -l");
    CHECK(json.out.find("\"state\": \"defined\"") != std::string::npos);
}
