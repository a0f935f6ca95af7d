// The KVM platform's own mechanisms, on this machine's KVM, with a few
// bytes of guest code: queued (coalesced) port writes reach the monitor
// once each, in the guest's order, before the exit that follows them, also
// when KVM's ring fills and a write exits on its own.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <variant>
#include <vector>

#include "guest_harness.hpp"
#include "kernel_image.hpp"
#include "platform/kvm/kvm_system.hpp"
#include "pvh_image.hpp"

namespace {

using hv::platform::IoExit;
using hv::platform::Vm;

constexpr uint32_t kEntry = 0x10000;

// 32-bit code, entered through PVH (flat protected mode): writes 0..199
// to port 0xcf8 as dwords, a byte to 0xcfb, reads port 0x510, halts.
constexpr uint8_t kWriter[] = {
    0xba, 0xf8, 0x0c, 0x00, 0x00,             // mov edx, 0xcf8
    0x31, 0xc9,                               // xor ecx, ecx
    0x89, 0xc8,                               // L: mov eax, ecx
    0xef,                                     // out dx, eax
    0x41,                                     // inc ecx
    0x81, 0xf9, 0xc8, 0x00, 0x00, 0x00,       // cmp ecx, 200
    0x75, 0xf4,                               // jne L
    0xba, 0xfb, 0x0c, 0x00, 0x00,             // mov edx, 0xcfb
    0xb0, 0xab,                               // mov al, 0xab
    0xee,                                     // out dx, al
    0xba, 0x10, 0x05, 0x00, 0x00,             // mov edx, 0x510
    0xec,                                     // in al, dx
    0xf4,                                     // hlt
};

struct Seen {
    uint16_t port;
    uint8_t size;
    uint32_t value;
    bool queued;
    bool operator==(const Seen&) const = default;
};

// Runs kWriter to its HLT; every port write, queued or exited, in the
// order the monitor learnt of them (queued ones drained first, as the
// monitor does on each exit).
std::vector<Seen> run_writer(bool queue) {
    auto sys = hv::kvm::KvmSystem::open();
    REQUIRE(sys);
    auto vm = (*sys)->create_vm(2u << 20);
    REQUIRE(vm);
    if (queue) REQUIRE((*vm)->queue_port_writes(0xcf8, 4));
    (*vm)->ram().write(kEntry, kWriter, sizeof kWriter);
    auto cpu = (*vm)->create_vcpu(0);
    REQUIRE(cpu);
    REQUIRE((*cpu)->set_pvh_entry(kEntry, 0));
    std::vector<Seen> seen;
    bool read_510 = false;
    for (int exits = 0; exits < 1000; ++exits) {
        const auto exit = (*cpu)->run();
        (*vm)->drain_port_writes([&](const Vm::PortWrite& w) {
            uint32_t v = 0;
            std::memcpy(&v, w.data, w.size);
            seen.push_back(Seen{w.port, w.size, v, true});
        });
        if (const auto* io = std::get_if<IoExit>(&exit)) {
            if (io->write) {
                uint32_t v = 0;
                std::memcpy(&v, io->data, io->size);
                seen.push_back(Seen{io->port, io->size, v, false});
            } else {
                CHECK(io->port == 0x510);
                CHECK_FALSE(read_510);
                read_510 = true;
            }
            continue;
        }
        REQUIRE(std::holds_alternative<hv::platform::HltExit>(exit));
        break;
    }
    CHECK(read_510);
    return seen;
}

std::vector<Seen> expected_writes() {
    std::vector<Seen> w;
    for (uint32_t i = 0; i < 200; ++i) w.push_back(Seen{0xcf8, 4, i, false});
    w.push_back(Seen{0xcfb, 1, 0xab, false});
    return w;
}

// Equal apart from how each write arrived.
bool same_writes(std::vector<Seen> a, std::vector<Seen> b) {
    for (auto& s : a) s.queued = false;
    for (auto& s : b) s.queued = false;
    return a == b;
}

} // namespace

TEST_CASE("KVM: port writes exit one by one unless queued", "[kvm][platform]") {
    const auto seen = run_writer(false);
    CHECK(seen == expected_writes());
}

TEST_CASE("KVM: queued port writes reach the monitor once each, in order, before the next exit", "[kvm][platform]") {
    const auto seen = run_writer(true);
    CHECK(same_writes(seen, expected_writes()));
    // KVM's ring holds 169 (one slot stays free): the 170th write exits on
    // its own, after the monitor drained the first 169; the rest queue
    // again and come out at the read of port 0x510.
    size_t exited = 0;
    for (const auto& s : seen) exited += s.queued ? 0 : 1;
    CHECK(exited >= 1);
    CHECK(exited < 10);
    CHECK(seen.front().queued);
    CHECK(seen.back().queued); // the byte at 0xcfb, drained at the read
}

TEST_CASE("KVM: port writes are queued only before the vCPUs exist, on a real port range", "[kvm][platform]") {
    auto sys = hv::kvm::KvmSystem::open();
    REQUIRE(sys);
    auto vm = (*sys)->create_vm(2u << 20);
    REQUIRE(vm);
    CHECK_FALSE((*vm)->queue_port_writes(0xffff, 2));
    CHECK_FALSE((*vm)->queue_port_writes(0xcf8, 0));
    auto cpu = (*vm)->create_vcpu(0);
    REQUIRE(cpu);
    auto late = (*vm)->queue_port_writes(0xcf8, 4);
    REQUIRE_FALSE(late);
    CHECK(late.error().message.find("before the vCPUs") != std::string::npos);
    // Nothing queued: draining is a no-op.
    CHECK((*vm)->drain_port_writes([](const Vm::PortWrite&) { FAIL("nothing was queued"); }) == 0);
}

// The monitor's side, on hv's PC machine (an ELF without hv's note): a
// reset written to 0xcf9 is a queued write (it shares the PCI address
// dword), yet it reboots the domain when the guest then halts with
// interrupts off (HLT stays inside KVM: the I/O loop's periodic drain
// finds the write and kicks the vCPU), and a triple fault right after it
// is the reboot the guest asked for, not a crash.
namespace {

hv::config::DomainConfig pc_guest(const std::string& name, const std::vector<uint8_t>& code, const std::string& path) {
    const auto elf = hvtest::without_hv_note(hvbench::pvh_elf(code));
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(elf.data()), static_cast<std::streamsize>(elf.size()));
    }
    auto cfg = hv::config::parse_domain_config("name = '" + name + "'\nkernel = '" + path +
                                                   "'\nmemory = 16\non_reboot = 'preserve'\non_crash = 'preserve'\n",
                                               "test.cfg");
    REQUIRE(cfg);
    return *cfg;
}

} // namespace

TEST_CASE("a reset written to 0xcf9 reboots a PC guest that then halts or triple-faults", "[kvm][platform][pc]") {
    // mov al,6; mov dx,0xcf9; out dx,al, then a tail.
    const std::pair<const char*, std::vector<uint8_t>> guests[] = {
        {"halt", {0xb0, 0x06, 0x66, 0xba, 0xf9, 0x0c, 0xee, 0xfa, 0xf4, 0xeb, 0xfd}}, // cli; hlt; jmp back to the hlt
        {"triple fault", {0xb0, 0x06, 0x66, 0xba, 0xf9, 0x0c, 0xee, 0x0f, 0x0b}},     // ud2 with no IDT
    };
    char dir[] = "/tmp/hv-pc-reset-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    for (const auto& [what, code] : guests) {
        DYNAMIC_SECTION(what) {
            auto m = hvtest::open_monitor();
            auto id = m->create(pc_guest("reset", code, std::string(dir) + "/k.elf"));
            REQUIRE(id);
            auto info = m->wait_stopped(*id, std::chrono::seconds(20));
            REQUIRE(info);
            CHECK(info->shutdown_reason == hv::core::ShutdownReason::reboot);
            REQUIRE(m->destroy(*id));
        }
    }
    std::filesystem::remove_all(dir);
}
