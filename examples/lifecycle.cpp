// lifecycle: a domain's life in one page of the hv SDK. Creates two domains
// from one config, lists them, shows one's console, pauses and unpauses it,
// shuts it down and destroys the other.
//
//   lifecycle [URI] CONFIG
//
// URI: embedded:// (a monitor inside this program) or unix:///path (hvd);
// default $HV_CONNECT, else hvd's socket. The domains are named after the
// config file: hello.cfg gives hello-a and hello-b.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include <hv/sdk/connection.hpp>

namespace sdk = hv::sdk;
using namespace std::chrono_literals;

namespace {

// xl list's State column: one letter of rbpscd in its place.
std::string state_column(sdk::State s) {
    std::string col = "------";
    col[std::string("rbpscd").find(static_cast<char>(s))] = static_cast<char>(s);
    return col;
}

void print_list(const std::vector<sdk::DomainInfo>& domains) {
    std::printf("%-40s %5s %5s %5s %10s %9s\n", "Name", "ID", "Mem", "VCPUs", "State", "Time(s)");
    for (const auto& d : domains)
        std::printf("%-40s %5u %5llu %5u     %s  %8.1f\n", d.name.c_str(), d.domid,
                    static_cast<unsigned long long>(d.memory_mib), d.vcpus_online, state_column(d.state).c_str(),
                    d.cpu_seconds);
}

hv::Result<void> tour(const sdk::Connection& conn, const sdk::Domain& a, const sdk::Domain& b) {
    auto domains = conn.list();
    if (!domains) return domains.error();
    print_list(*domains);

    // The console: what the guest printed so far, then live output.
    auto console = a.console([](std::string_view text) { std::fwrite(text.data(), 1, text.size(), stdout); });
    if (!console) return console.error();
    std::this_thread::sleep_for(1s);
    console->reset();

    if (auto r = a.pause(); !r) return r;
    std::printf("domain %u paused\n", a.id());
    if (auto r = a.unpause(); !r) return r;
    std::printf("domain %u unpaused\n", a.id());

    // Ask the guest to power off and wait (up to 20 s) until it has.
    if (auto r = a.shutdown({sdk::ShutdownReason::poweroff, true, 20000, false}); !r) return r;
    std::printf("domain %u shut down\n", a.id());
    if (auto r = b.destroy(); !r) return r;
    std::printf("domain %u destroyed\n", b.id());
    return {};
}

int fail(const std::string& what, const hv::Error& e) {
    std::fprintf(stderr, "lifecycle: %s: %s\n", what.c_str(), e.message.c_str());
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: lifecycle [URI] CONFIG\n");
        return 2;
    }
    const std::string uri = argc == 3 ? argv[1] : "", config = argv[argc - 1];
    const std::string name = std::filesystem::path(config).stem().string();

    auto conn = sdk::Connection::open(uri);
    if (!conn) return fail("connect", conn.error());
    auto a = conn->create_from_file(config, {"name=" + name + "-a", "extra=stay"});
    if (!a) return fail("create " + name + "-a", a.error());
    auto b = conn->create_from_file(config, {"name=" + name + "-b", "extra=stay"});
    if (!b) {
        (void)a->destroy();
        return fail("create " + name + "-b", b.error());
    }
    if (auto r = tour(*conn, *a, *b); !r) {
        (void)a->destroy(); // whatever is left of them
        (void)b->destroy();
        return fail(name + "-a, " + name + "-b", r.error());
    }
    return 0;
}
