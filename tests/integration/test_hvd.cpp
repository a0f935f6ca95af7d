// hvd and the SDK, end to end: real daemon, real domain processes, real
// guests.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <filesystem>
#include <future>

#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include "hv/sdk/connection.hpp"
#include "hvd_harness.hpp"

using namespace hvtest;
using hv::sdk::Connection;
using hv::sdk::ShutdownReason;
using hv::sdk::State;

void check_typed_spec(const Connection& conn);


TEST_CASE("hvd runs two domains in their own processes and the SDK drives them", "[kvm][hvd][sdk]") {
    HvdProcess hvd;
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto a = conn->create(hello_request("web", "stay", 2));
    REQUIRE(a);
    auto b = conn->create(hello_request("db", "stay"));
    REQUIRE(b);
    CHECK(hvd.domain_processes().size() == 2);

    std::string seen;
    std::mutex mu;
    auto console = a->console([&](std::string_view s) {
        std::lock_guard lock(mu);
        seen.append(s);
    });
    REQUIRE(console);
    REQUIRE(wait_history(*a, "hello: 2 vcpus up"));

    auto list = conn->list();
    REQUIRE(list);
    REQUIRE(list->size() == 2);
    CHECK((*list)[0].name == "web");
    CHECK((*list)[1].name == "db");
    CHECK((*list)[0].vcpus == 2);
    CHECK(conn->domain("db")->id() == b->id());
    CHECK(conn->create(hello_request("db", "stay")).error().code == hv::Errc::exists);

    REQUIRE(a->pause());
    CHECK(a->info()->state == State::paused);
    REQUIRE(a->unpause());
    CHECK(a->info()->state != State::paused);

    REQUIRE(a->shutdown({ShutdownReason::poweroff, true, 20000, false}));
    REQUIRE(b->destroy());
    // The stream is asynchronous (hvd gathers console bytes for a few
    // milliseconds): its last bytes may come after shutdown -w returns.
    for (int i = 0; i < 500; ++i) {
        {
            std::lock_guard lock(mu);
            if (seen.find("hello: shutdown requested: poweroff") != std::string::npos) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    console->reset();
    {
        std::lock_guard lock(mu);
        INFO("console seen: " << seen);
        CHECK(seen.find("hello from domain") != std::string::npos);
        CHECK(seen.find("hello: shutdown requested: poweroff") != std::string::npos);
    }
    CHECK(conn->list()->empty());
    check_typed_spec(*conn);
    {
        // A refused spec spends no domain process and writes no file: a
        // name that leaves the log folder is refused before anything
        // touches a path.
        const auto before = hvd.domain_processes(true).size();
        hv::sdk::DomainSpec escape;
        escape.name = "../escape";
        escape.kernel = hello_guest();
        auto r = conn->create(escape);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.rfind("DomainSpec.name: '../escape' ", 0) == 0);
        CHECK_FALSE(std::filesystem::exists(hvd.state_dir() + "/escape.log"));
        CHECK(hvd.domain_processes(true).size() == before);
    }
    // The domain processes exit once their domain is gone.
    for (int i = 0; i < 300 && !hvd.domain_processes().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(hvd.domain_processes().empty());
}

TEST_CASE("kill -9 of hvd leaves domains running; a new hvd re-attaches them", "[kvm][hvd]") {
    HvdProcess hvd;
    uint32_t id = 0;
    {
        auto conn = Connection::open(hvd.uri());
        REQUIRE(conn);
        auto d = conn->create(hello_request("survivor", "stay"));
        REQUIRE(d);
        id = d->id();
        REQUIRE(wait_history(*d, "hello: 1 vcpus up"));
    }
    CHECK(hvd.stop(SIGKILL) == 128 + SIGKILL);
    REQUIRE(hvd.domain_processes().size() == 1);
    hvd.start();
    auto conn = Connection::open(hvd.uri());
    REQUIRE(conn);
    auto d = conn->domain("survivor");
    REQUIRE(d);
    CHECK(d->id() == id);
    CHECK(d->console_history()->find("hello from domain") != std::string::npos);
    REQUIRE(d->shutdown({ShutdownReason::poweroff, true, 20000, false}));
    CHECK(conn->list()->empty());
}

TEST_CASE("managed domains persist across hvd restarts", "[kvm][hvd]") {
    HvdProcess hvd;
    {
        auto conn = Connection::open(hvd.uri());
        REQUIRE(conn);
        REQUIRE(conn->backend().define(hello_request("kept", "stay")));
        auto bad = hello_request("broken", "stay");
        bad.config_text += "memory = = 3\n";
        auto r = conn->backend().define(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == hv::Errc::parse_error);
    }
    CHECK(hvd.stop(SIGTERM) == 0);
    hvd.start();
    auto conn = Connection::open(hvd.uri());
    INFO((conn ? std::string() : conn.error().message));
    REQUIRE(conn);
    auto names = conn->backend().list_defined();
    REQUIRE(names);
    REQUIRE(*names == std::vector<std::string>{"kept"});
    auto id = conn->backend().start("kept");
    REQUIRE(id);
    CHECK(conn->domain("kept")->id() == *id);
    REQUIRE(conn->domain("kept")->destroy());
    REQUIRE(conn->backend().undefine("kept"));
    CHECK(conn->backend().list_defined()->empty());
    CHECK(conn->backend().start("kept").error().code == hv::Errc::not_found);
    // No half-written files were left behind.
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(hvd.state_dir()) / "managed"))
        CHECK(e.path().extension() != ".tmp");
}

TEST_CASE("peers that are not root, hvd's user or in its group are refused", "[hvd][bad-input]") {
    HvdProcess hvd;
    // Let the peer reach the socket, so that SO_PEERCRED is what refuses it.
    ::chmod(hvd.dir().c_str(), 0755);
    ::chmod(hvd.socket().c_str(), 0666);
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(3);
        auto conn = Connection::open(hvd.uri());
        if (conn) _exit(1);
        _exit(conn.error().code == hv::Errc::permission_denied ? 0 : 2);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // The daemon is still fine for allowed peers.
    CHECK(Connection::open(hvd.uri()));
}


TEST_CASE("malformed frames get an error reply and the daemon lives on", "[hvd][bad-input]") {
    HvdProcess hvd;
    {
        const int fd = raw_connect(hvd.socket());
        auto r = roundtrip(fd, std::string(24, 'x')); // bad magic
        REQUIRE(r);
        CHECK(r->header.status == HV_EPROTO);
        CHECK(r->payload.find("magic") != std::string::npos);
        CHECK_FALSE(roundtrip(fd, hello())); // closed after a framing error
        ::close(fd);
    }
    {
        const int fd = raw_connect(hvd.socket());
        hv_ctl_header_t h{HV_CTL_MAGIC, HV_CTL_VERSION, HV_CTL_REQUEST, HV_DOMCTL_LIST, 1, 0, HV_CTL_MAX_PAYLOAD + 1};
        auto r = roundtrip(fd, std::string(reinterpret_cast<const char*>(&h), sizeof h));
        REQUIRE(r);
        CHECK(r->header.status == HV_EPROTO);
        CHECK(r->payload.find("limit") != std::string::npos);
        ::close(fd);
    }
    {
        const int fd = raw_connect(hvd.socket());
        auto r = roundtrip(fd, request(HV_DOMCTL_LIST, {})); // no HELLO first
        REQUIRE(r);
        CHECK(r->header.status == HV_EPROTO);
        ::close(fd);
    }
    {
        const int fd = raw_connect(hvd.socket());
        auto r = roundtrip(fd, request(HV_SYSCTL_HELLO, hv::sdk::wire::pack(hv_ctl_hello_t{5, 9, 0, 0, 0})));
        REQUIRE(r);
        CHECK(r->header.status == HV_EPROTO);
        CHECK(r->payload.find("no common protocol version") != std::string::npos);
        ::close(fd);
    }
    {
        // After a good HELLO, request-level errors keep the connection.
        const int fd = raw_connect(hvd.socket());
        auto r = roundtrip(fd, hello());
        REQUIRE(r);
        REQUIRE(r->header.status == HV_OK);
        r = roundtrip(fd, request(0x00ff0001u, {}));
        REQUIRE(r);
        CHECK(r->header.status == HV_ENOSYS);
        r = roundtrip(fd, request(HV_DOMCTL_PAUSE, "abc"));
        REQUIRE(r);
        CHECK(r->header.status == HV_EINVAL);
        CHECK(r->payload.find("payload of 3 bytes") != std::string::npos);
        r = roundtrip(fd, request(HV_DOMCTL_LIST, {}, 9));
        REQUIRE(r);
        CHECK(r->header.status == HV_EPROTO);
        r = roundtrip(fd, request(HV_DOMCTL_PAUSE, hv::sdk::wire::pack(hv_ctl_domid_t{4242, 0})));
        REQUIRE(r);
        CHECK(r->header.status == HV_ENOENT);
        r = roundtrip(fd, request(HV_DOMCTL_LIST, {}));
        REQUIRE(r);
        CHECK(r->header.status == HV_OK);
        CHECK(r->header.request_id == 7);
        ::close(fd);
    }
    CHECK(Connection::open(hvd.uri())->list());
}

// A typed DomainSpec travels as typed fields (CREATE_SPEC) through either
// backend: it creates what it says, and a refusal names the field.
void check_typed_spec(const Connection& conn) {
    hv::sdk::DomainSpec spec;
    spec.name = "typed";
    spec.kernel = hello_guest();
    spec.memory_mib = 16;
    spec.vcpus = 2;
    // Bytes an xl.cfg string would have to escape reach the guest as given.
    spec.cmdline = "poweroff say=\"q\\\"";
    spec.uuid = hv::sdk::Uuid{0x5e, 0xc0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    spec.on_poweroff = hv::sdk::Action::preserve;
    auto typed = conn.create(spec, true);
    REQUIRE(typed);
    auto info = typed->info();
    REQUIRE(info);
    CHECK(info->state == hv::sdk::State::paused);
    CHECK(info->uuid == *spec.uuid);
    CHECK(info->memory_mib == 16);
    REQUIRE(typed->unpause());
    auto end = typed->wait(20000);
    REQUIRE(end);
    CHECK(end->shutdown_reason == ShutdownReason::poweroff);
    CHECK(end->state == hv::sdk::State::shutdown); // preserve kept it
    CHECK(typed->console_history()->find("vcpu 1 of 2") != std::string::npos);
    REQUIRE(typed->destroy());

    const auto refusal = [&](hv::sdk::DomainSpec bad) {
        auto r = conn.create(bad);
        REQUIRE_FALSE(r);
        return r.error().message;
    };
    auto bad = spec;
    bad.memory_mib = 8192;
    CHECK(refusal(bad).rfind("DomainSpec.memory_mib: 8192 MiB is more than hv gives a guest", 0) == 0);
    bad = spec;
    bad.vcpus = 0;
    CHECK(refusal(bad) == "DomainSpec.vcpus: 0 is out of range (1..128)");
    bad = spec;
    bad.on_crash = static_cast<hv::sdk::Action>(42);
    CHECK(refusal(bad) == "DomainSpec.on_crash: action code 42 is not one of hv's (0..6)");
    bad = spec;
    bad.on_reboot = hv::sdk::Action::soft_reset;
    CHECK(refusal(bad) == "DomainSpec.on_reboot: action 'soft-reset' is not supported yet");
    bad = spec;
    bad.kernel = "hello-guest";
    CHECK(refusal(bad) == "DomainSpec.kernel: 'hello-guest' is not an absolute path");
    bad = spec;
    bad.kernel.clear();
    CHECK(refusal(bad) == "DomainSpec.kernel: required, not set");
    bad = spec;
    bad.name.clear();
    CHECK(refusal(bad) == "DomainSpec.name: required, not set");
    bad = spec;
    bad.kernel = std::string("/tmp/k\0x", 8);
    CHECK(refusal(bad) == "DomainSpec.kernel: the path contains a NUL byte");
    bad = spec;
    bad.ramdisk = "boot/initrd";
    CHECK(refusal(bad) == "DomainSpec.ramdisk: 'boot/initrd' is not an absolute path");
    bad = spec;
    bad.name = "../x";
    CHECK(refusal(bad).rfind("DomainSpec.name: '../x' ", 0) == 0);
    bad = spec;
    bad.cmdline = std::string(5000, 'x');
    CHECK(refusal(bad).rfind("DomainSpec.cmdline: the kernel command line is 5000 bytes", 0) == 0);
    CHECK(conn.list()->empty());
}

TEST_CASE("embedded:// speaks the same SDK API, sync and async", "[kvm][sdk]") {
    auto conn = Connection::open("embedded://");
    INFO((conn ? std::string() : conn.error().message));
    REQUIRE(conn);
    auto d = conn->create(hello_request("emb", "stay"));
    REQUIRE(d);
    REQUIRE(wait_history(*d, "hello: 1 vcpus up"));
    auto listed = conn->async_list(boost::asio::use_future).get();
    REQUIRE(listed);
    CHECK(listed->size() == 1);
    auto stopped = d->async_shutdown({ShutdownReason::poweroff, true, 20000, false}, boost::asio::use_future).get();
    CHECK(stopped);
    CHECK(conn->list()->empty());
    check_typed_spec(*conn);
    CHECK(Connection::open("tcp://nope").error().code == hv::Errc::invalid_argument);
    CHECK(Connection::open("unix:///nonexistent/hvd.sock").error().code == hv::Errc::not_found);
}
