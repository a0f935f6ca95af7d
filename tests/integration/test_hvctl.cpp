// hvctl, run as a user would: exit status, console on stdout, errors on
// stderr naming the file and position.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "hvctl_runner.hpp"

using namespace hvtest;

namespace {

std::string hello_cfg(const TempDir& dir, const std::string& extra, int vcpus = 2) {
    return dir.write("hello.cfg", fmt::format("# test config\nname = \"hello\"\nkernel = \"{}\"\nmemory = 16\nvcpus = {}\nextra = \"{}\"\n",
                                              hello_guest(), vcpus, extra));
}

} // namespace

TEST_CASE("hvctl create -c shows the console and exits 0 on poweroff", "[kvm][hvctl]") {
    TempDir dir;
    const Run r = hvctl(dir, "create -c " + hello_cfg(dir, "poweroff"));
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("hello from domain 1 vcpu 0 of 2") != std::string::npos);
    CHECK(r.out.find("hello from domain 1 vcpu 1 of 2") != std::string::npos);
    CHECK(r.out.find("hello: shutting down: poweroff") != std::string::npos);
    CHECK(r.err.find("poweroff") != std::string::npos);
}

TEST_CASE("hvctl create: KEY=VALUE overrides and a crash exits 2", "[kvm][hvctl]") {
    TempDir dir;
    const Run r = hvctl(dir, "create -c " + hello_cfg(dir, "poweroff") + " extra=crash vcpus=1");
    CHECK(r.status == 2);
    CHECK(r.out.find("vcpu 0 of 1") != std::string::npos);
    CHECK(r.out.find("hello: shutting down: crash") != std::string::npos);
}

TEST_CASE("hvctl create without -c runs the guest without printing its console", "[kvm][hvctl]") {
    TempDir dir;
    const Run r = hvctl(dir, "create " + hello_cfg(dir, "poweroff"));
    CHECK(r.status == 0);
    CHECK(r.out.empty());
    CHECK(r.err.find("created") != std::string::npos);
}

TEST_CASE("hvctl create -n prints the resolved config as JSON and creates nothing", "[hvctl][config]") {
    TempDir dir;
    const std::string cfg = dir.write("d.cfg", fmt::format("name='dry'\nkernel='{}'\nmemory='64'\nfrobnicate=1\n", hello_guest()));
    Run r = hvctl(dir, "create -n " + cfg + " vcpus=3");
    CHECK(r.status == 0);
    CHECK(r.out.find("\"name\": \"dry\"") != std::string::npos);
    CHECK(r.out.find("\"memory\": 64") != std::string::npos);
    CHECK(r.out.find("\"vcpus\": 3") != std::string::npos);
    CHECK(r.out.find("\"frobnicate\"") != std::string::npos); // listed as unknown
    CHECK(r.err.find("warning:") != std::string::npos);       // and warned about
    CHECK(r.err.find("frobnicate") != std::string::npos);

    // A dry run refuses what a create refuses, naming file:line and the key.
    r = hvctl(dir, "create -n " + cfg + " vif=['bridge=xenbr0']");
    CHECK(r.status == 1);
    CHECK(r.err.find("override 1:1:1: vif: not supported yet") != std::string::npos);
    r = hvctl(dir, "create -n " + cfg + " memory=8192");
    CHECK(r.status == 1);
    CHECK(r.err.find("override 1:1:8: memory: 8192 MiB is more than hv gives a guest") != std::string::npos);
    // Scheduling keys are honoured and shown; bad values name the range.
    const std::string sched = dir.write("s.cfg", fmt::format("name='dry'\nkernel='{}'\nvcpus=1\nmaxvcpus=2\n"
                                                             "cpu_weight=512\ncap=150\ncpus='0'\n", hello_guest()));
    r = hvctl(dir, "create -n " + sched);
    CHECK(r.status == 0);
    CHECK(r.out.find("\"maxvcpus\": 2") != std::string::npos);
    CHECK(r.out.find("\"cpu_weight\": 512") != std::string::npos);
    CHECK(r.out.find("\"cap\": 150") != std::string::npos);
    CHECK(r.out.find("\"cpus\": \"0\"") != std::string::npos);
    r = hvctl(dir, "create -n " + sched + " cpu_weight=0");
    CHECK(r.status == 1);
    CHECK(r.err.find("cpu_weight") != std::string::npos);
    CHECK(r.err.find("65535") != std::string::npos);
    r = hvctl(dir, "create -n " + sched + " cap=201");
    CHECK(r.status == 1);
    CHECK(r.err.find("cap: 201 is above 100 x maxvcpus (2) = 200") != std::string::npos);
    // Whether the CPUs exist is the host's to say, at create.
    r = hvctl(dir, "create " + sched + " cpus='63'");
    CHECK(r.status == 1);
    CHECK(r.err.find("cpus: CPUs 63 are not all host CPUs given to hv") != std::string::npos);
}

TEST_CASE("hvctl reports config and kernel errors with exit status 1", "[hvctl][bad-input]") {
    TempDir dir;
    const std::string broken = dir.write("broken.cfg", "name = 'x'\nmemory = = 3\n");
    Run r = hvctl(dir, "create " + broken);
    CHECK(r.status == 1);
    CHECK(r.err.find(broken + ":2:") != std::string::npos);

    r = hvctl(dir, "create " + (dir.path() / "missing.cfg").string());
    CHECK(r.status == 1);
    CHECK(r.err.find("missing.cfg") != std::string::npos);

    const std::string nokernel = dir.write("nk.cfg", "name = 'x'\nkernel = '/no/such/vmlinux'\n");
    r = hvctl(dir, "create " + nokernel);
    CHECK(r.status == 1);
    CHECK(r.err.find("/no/such/vmlinux") != std::string::npos);

    r = hvctl(dir, "create -x " + nokernel);
    CHECK(r.status == 1);
    CHECK(r.err.find("unknown option '-x'") != std::string::npos);

    // Commands other than create talk to hvd: without one, a clear error.
    r = hvctl(dir, "--connect unix://" + (dir.path() / "no-hvd.sock").string() + " list");
    CHECK(r.status == 1);
    CHECK(r.err.find("no-hvd.sock") != std::string::npos);
    CHECK(r.err.find("is hvd running?") != std::string::npos);

    r = hvctl(dir, "mem-set hello 64");
    CHECK(r.status == 1);
    CHECK(r.err.find("'mem-set' is not supported yet") != std::string::npos);
}

TEST_CASE("the hello image boots under QEMU microvm too (cross-check)", "[kvm][qemu]") {
    // scripts/setup installs QEMU; its absence is a broken setup, not a skip.
    REQUIRE(std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0);
    TempDir dir;
    const auto out = dir.path() / "serial";
    const std::string cmd = fmt::format(
        "timeout 60 qemu-system-x86_64 -M microvm -accel kvm -m 32 -smp 1 -nodefaults -no-reboot -nographic "
        "-serial file:{} -kernel '{}' -append poweroff >/dev/null 2>&1",
        out.string(), hello_guest());
    std::system(cmd.c_str());
    const std::string serial = slurp(out);
    INFO(serial);
    CHECK(serial.find("hello: not running on hv") != std::string::npos);
    CHECK(serial.find("hello from domain 0 vcpu 0 of 1") != std::string::npos);
}
