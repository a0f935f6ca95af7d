#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "guest_harness.hpp"

using namespace hvtest;
using hv::core::DomainState;
using hv::core::ShutdownReason;

TEST_CASE("pause and unpause a running multi-vCPU domain", "[kvm][control]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("pz", "stay", 2));
    REQUIRE(id);
    REQUIRE(wait_console(*m, *id, "hello: 2 vcpus up"));
    REQUIRE(m->pause(*id));
    CHECK(m->info(*id)->state == DomainState::paused);
    // A shutdown request while paused waits until the domain runs again.
    REQUIRE(m->shutdown(*id, ShutdownReason::poweroff));
    CHECK(m->wait_stopped(*id, std::chrono::milliseconds(300)).error().code == hv::Errc::timed_out);
    REQUIRE(m->unpause(*id));
    auto info = m->wait_stopped(*id, kBoot);
    REQUIRE(info);
    CHECK(info->shutdown_reason == ShutdownReason::poweroff);
}

TEST_CASE("a domain created paused runs no guest code until unpaused", "[kvm][control]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("cp", "poweroff"), true);
    REQUIRE(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(m->info(*id)->state == DomainState::paused);
    CHECK(m->console_history(*id)->empty());
    REQUIRE(m->unpause(*id));
    auto info = m->wait_stopped(*id, kBoot);
    REQUIRE(info);
    CHECK(info->shutdown_reason == ShutdownReason::poweroff);
}

TEST_CASE("the guest answers shutdown and reboot requests", "[kvm][control]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("sr", "stay", 1, "on_reboot='preserve'\n"));
    REQUIRE(id);
    REQUIRE(wait_console(*m, *id, "hello: 1 vcpus up"));
    // It blocks right after printing that line (a moment later on a busy host).
    bool blocked = false;
    for (int i = 0; i < 500 && !blocked; ++i) {
        blocked = m->info(*id)->state == DomainState::blocked;
        if (!blocked) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(blocked);
    REQUIRE(m->shutdown(*id, ShutdownReason::reboot));
    auto info = m->wait_stopped(*id, kBoot);
    REQUIRE(info);
    CHECK(info->shutdown_reason == ShutdownReason::reboot);
    CHECK(wait_console(*m, *id, "hello: shutdown requested: reboot", std::chrono::seconds(1)));
    CHECK_FALSE(m->shutdown(*id, ShutdownReason::crash)); // only poweroff and reboot may be asked for
}

TEST_CASE("a guest ignoring shutdown is reported and destroy still stops it", "[kvm][control]") {
    auto m = open_monitor();
    const size_t fds = open_fds();
    const size_t tasks = threads();
    auto id = m->create(hello_config("deaf", "stay ignore-shutdown", 4));
    REQUIRE(id);
    REQUIRE(wait_console(*m, *id, "hello: 4 vcpus up"));
    REQUIRE(m->shutdown(*id, ShutdownReason::poweroff));
    REQUIRE(wait_console(*m, *id, "hello: ignoring shutdown request"));
    auto waited = m->wait_stopped(*id, std::chrono::milliseconds(500));
    REQUIRE_FALSE(waited);
    CHECK(waited.error().code == hv::Errc::timed_out);
    CHECK(waited.error().message.find("did not shut down") != std::string::npos);
    REQUIRE(m->destroy(*id));
    CHECK_FALSE(m->info(*id));
    CHECK(open_fds() == fds);
    CHECK(threads() == tasks);
}

TEST_CASE("destroy from another thread while vCPUs run leaks nothing", "[kvm][control]") {
    auto m = open_monitor();
    const size_t fds = open_fds();
    const size_t tasks = threads();
    for (int round = 0; round < 3; ++round) {
        auto id = m->create(hello_config(fmt::format("d{}", round), "stay", 4));
        REQUIRE(id);
        REQUIRE(wait_console(*m, *id, "hello from domain"));
        std::thread killer([&] { CHECK(m->destroy(*id)); });
        killer.join();
        CHECK_FALSE(m->info(*id));
    }
    CHECK(open_fds() == fds);
    CHECK(threads() == tasks);
    CHECK(m->list().empty());
}

TEST_CASE("malformed hypercalls get errors, are logged, and the monitor lives on", "[kvm][abi][bad-input]") {
    auto m = open_monitor();
    auto id = m->create(hello_config("bad", "malformed poweroff", 2, "on_poweroff='preserve'\n"));
    REQUIRE(id);
    auto info = m->wait_stopped(*id, kBoot);
    REQUIRE(info);
    CHECK(info->shutdown_reason == ShutdownReason::poweroff);
    const std::string out = *m->console_history(*id);
    INFO(out);
    CHECK(out.find("FAILED") == std::string::npos);
    CHECK(out.find("malformed: ") != std::string::npos);
    // "malformed: N/N ok": both numbers equal and not zero
    const auto pos = out.find("/", out.rfind("malformed: "));
    REQUIRE(pos != std::string::npos);
    const std::string summary = out.substr(out.rfind("malformed: "), out.find('\n', pos) - out.rfind("malformed: "));
    int ok = 0, total = 0;
    REQUIRE(std::sscanf(summary.c_str(), "malformed: %d/%d ok", &ok, &total) == 2);
    CHECK(ok == total);
    CHECK(total >= 10);
    size_t refused = 0;
    for (const auto& line : m->dmesg()) refused += line.find("refused") != std::string::npos ? 1 : 0;
    CHECK(refused >= static_cast<size_t>(total) - 1); // the bad-slot-address case logs too
    // Still fine afterwards.
    auto again = m->create(hello_config("after", "poweroff"));
    REQUIRE(again);
    CHECK(m->wait_stopped(*again, kBoot));
}

TEST_CASE("guest faults and triple faults are reported as crashes", "[kvm][crash]") {
    for (const char* word : {"fault", "triple"}) {
        DYNAMIC_SECTION(word) {
            auto m = open_monitor();
            auto id = m->create(hello_config("f", word, 1, "on_crash='preserve'\n"));
            REQUIRE(id);
            auto info = m->wait_stopped(*id, kBoot);
            REQUIRE(info);
            CHECK(info->shutdown_reason == ShutdownReason::crash);
            CHECK(info->state == DomainState::crashed);
            if (std::string(word) == "triple") CHECK(info->detail.find("triple fault") != std::string::npos);
            else CHECK(wait_console(*m, *id, "hello: exception 6", std::chrono::seconds(1)));
        }
    }
}

TEST_CASE("a missing or corrupt kernel is a clear error and leaves nothing behind", "[kvm][bad-input]") {
    auto m = open_monitor();
    const size_t fds = open_fds();
    auto cfg = hello_config("k", "poweroff");
    cfg.kernel = "/nonexistent/kernel.elf";
    auto r = m->create(cfg);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == hv::Errc::not_found);
    CHECK(r.error().message.find("/nonexistent/kernel.elf") != std::string::npos);

    const auto dir = std::filesystem::temp_directory_path() / fmt::format("hv-test-{}", ::getpid());
    std::filesystem::create_directories(dir);
    const auto junk = dir / "junk.elf";
    {
        std::ofstream f(junk, std::ios::binary);
        std::string bytes = "\x7f" "ELF";
        bytes.resize(300, '\x01');
        f << bytes;
    }
    cfg.kernel = junk.string();
    r = m->create(cfg);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == hv::Errc::bad_image);
    CHECK(r.error().message.find("domain k") != std::string::npos);
    std::filesystem::remove_all(dir);

    CHECK(m->list().empty());
    CHECK(open_fds() == fds);
    // The name is free again.
    cfg.kernel = hello_guest();
    auto ok = m->create(cfg);
    REQUIRE(ok);
    CHECK(m->wait_stopped(*ok, kBoot));
}

TEST_CASE("configs asking for what hv cannot do yet are refused by name", "[kvm][bad-input]") {
    auto m = open_monitor();
    const size_t fds = open_fds();
    // A missing image fails the create, naming the disk.
    auto cfg = hello_config("u", "poweroff", 1, "disk = ['file:/nonexistent/x.img,xvda,w']\n");
    auto r = m->create(cfg);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == hv::Errc::not_found);
    CHECK(r.error().message.find("disk 1 (xvda)") != std::string::npos);
    CHECK(r.error().message.find("/nonexistent/x.img") != std::string::npos);
    // hv's own PV kernels have no block device: a disk is refused for them,
    // and the image opened for it is closed again.
    const std::string img = "/tmp/hv-test-disk-" + std::to_string(::getpid()) + ".img";
    { std::ofstream(img) << std::string(4096, '\0'); }
    cfg = hello_config("u", "poweroff", 1, "disk = ['file:" + img + ",xvda,w']\n");
    r = m->create(cfg);
    std::filesystem::remove(img);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == hv::Errc::not_supported);
    CHECK(r.error().message.find("disks need a stock kernel") != std::string::npos);
    // A qcow2 disk is opened as qcow2 (open_disk): its missing backing
    // file fails the create, naming the disk and the backing file.
    const std::string q = "/tmp/hv-test-disk-" + std::to_string(::getpid()) + ".qcow2";
    REQUIRE(std::system(("qemu-img create -q -f qcow2 -u -b /nonexistent/base.raw -F raw '" + q + "' 1M").c_str()) == 0);
    cfg = hello_config("u", "poweroff", 1, "disk = ['qcow2:" + q + ",xvda,w']\n");
    r = m->create(cfg);
    std::filesystem::remove(q);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == hv::Errc::not_found);
    CHECK(r.error().message.find("disk 1 (xvda)") != std::string::npos);
    CHECK(r.error().message.find("backing file '/nonexistent/base.raw'") != std::string::npos);
    CHECK(open_fds() == fds);
    cfg = hello_config("u", "poweroff", 1, "on_crash='coredump-destroy'\n");
    r = m->create(cfg);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("coredump-destroy") != std::string::npos);
    CHECK(m->list().empty());
}
