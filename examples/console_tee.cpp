// console_tee: a domain's console to stdout and, appended, to a file (what
// the guest printed so far first, then live output) until the domain stops
// or goes away, or SIGINT/SIGTERM.
//
//   console_tee [URI] DOMAIN FILE
//
// URI: embedded:// or unix:///path (default $HV_CONNECT, else hvd's socket).
// DOMAIN: a name or a domid. Exits 0, or 1 with a message on an error.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <hv/sdk/connection.hpp>

namespace sdk = hv::sdk;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

volatile std::sig_atomic_t g_stop = 0;

int fail(const std::string& what, const hv::Error& e) {
    std::fprintf(stderr, "console_tee: %s: %s\n", what.c_str(), e.message.c_str());
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: console_tee [URI] DOMAIN FILE\n");
        return 2;
    }
    const std::string uri = argc == 4 ? argv[1] : "", name = argv[argc - 2], path = argv[argc - 1];
    std::signal(SIGINT, [](int) { g_stop = 1; });
    std::signal(SIGTERM, [](int) { g_stop = 1; });

    auto conn = sdk::Connection::open(uri);
    if (!conn) return fail("connect", conn.error());
    auto dom = conn->domain(name);
    if (!dom) return fail(name, dom.error());
    std::FILE* file = std::fopen(path.c_str(), "a");
    if (file == nullptr) return fail(path, hv::make_error(hv::Errc::io_error, std::strerror(errno)));

    // Console callbacks run on an SDK thread, one at a time.
    std::atomic<Clock::rep> last_output{0};
    auto console = dom->console([&](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        std::fwrite(text.data(), 1, text.size(), file);
        std::fflush(file);
        last_output = Clock::now().time_since_epoch().count();
    });
    if (!console) return fail("console", console.error());

    // Until the domain stops or is gone (wait returns, or not_found), or a
    // signal: short waits, so that a signal is noticed soon.
    bool gone = false;
    while (g_stop == 0 && !gone) {
        auto r = dom->wait(200);
        if (!r && r.error().code != hv::Errc::timed_out && r.error().code != hv::Errc::not_found)
            return fail("wait", r.error());
        gone = r || r.error().code == hv::Errc::not_found;
    }
    // Output still on its way arrives within moments: take it until the
    // stream has been quiet for 200 ms (at most 1 s).
    for (const auto end = Clock::now() + 1s; gone && g_stop == 0 && Clock::now() < end;) {
        if (Clock::now() - Clock::time_point(Clock::duration(last_output.load())) > 200ms) break;
        std::this_thread::sleep_for(20ms);
    }
    console->reset();
    std::fclose(file);
    return 0;
}
