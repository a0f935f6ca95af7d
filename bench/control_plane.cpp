// control_plane: hvd at N=1 and N=500 idle domains, side by side in one
// run. Pause+unpause latency of one domain (the index makes it O(1) calls
// to domain processes, whatever N) and the create rate (a process per
// domain) when N domains already exist. Prints
//   RESULT control_plane_pause_unpause ratio=<at N / at 1> ...
//   RESULT control_plane_create_rate ratio=<at N / at 1> ...   (creates/s)
//   --domains=N (default 500) --rounds=K pause+unpause pairs (default 200)
//   --creates=C timed creates at each N (default 20)
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include <fmt/format.h>

#include "bench_util.hpp"
#include "hv/sdk/connection.hpp"

using namespace hvbench;
namespace fs = std::filesystem;

namespace {

// A private hvd in a temporary folder, killed (with its domains) at the end.
class Hvd {
public:
    Hvd() {
        std::string tmpl = (fs::temp_directory_path() / "hv-bench-XXXXXX").string();
        dir_ = ::mkdtemp(tmpl.data());
        const std::string sock = socket(), state = (dir_ / "state").string(), log = (dir_ / "hvd.log").string();
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) ::dup2(fd, 2);
            execl(HV_BENCH_HVD, "hvd", "--socket", sock.c_str(), "--state-dir", state.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        for (int i = 0; i < 1000 && !fs::exists(sock); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ~Hvd() {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
        // Its domain processes outlive it by design: end them too.
        std::error_code ec;
        for (const auto& e : fs::directory_iterator("/proc", ec)) {
            std::ifstream f(e.path() / "cmdline");
            std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            if (cmd.find("hv-domain") != std::string::npos && cmd.find(dir_.string()) != std::string::npos)
                ::kill(std::stoi(e.path().filename().string()), SIGKILL);
        }
        fs::remove_all(dir_, ec);
    }
    std::string socket() const { return (dir_ / "hvd.sock").string(); }
    std::string uri() const { return "unix://" + socket(); }

private:
    fs::path dir_;
    pid_t pid_ = -1;
};

hv::sdk::CreateRequest idle(const std::string& name) {
    hv::sdk::CreateRequest r;
    r.config_text = fmt::format("name='{}'\nkernel='{}'\nmemory=16\nvcpus=1\nextra='stay'\n", name, HV_BENCH_HELLO_GUEST);
    r.source = "/bench/" + name + ".cfg";
    return r;
}

// Median seconds of one pause+unpause pair.
double pause_unpause(const hv::sdk::Domain& d, long rounds) {
    std::vector<double> v;
    for (long i = 0; i < rounds; ++i) {
        const auto t0 = Clock::now();
        if (!d.pause() || !d.unpause()) die("pause/unpause failed");
        v.push_back(seconds_between(t0, Clock::now()));
    }
    std::printf("  pause+unpause: %s ms\n", spread(v, 1e3).c_str());
    return median(v);
}

// Seconds per create of `n` domains (then destroyed again, so N holds).
double create_time(const hv::sdk::Connection& c, long n, const std::string& tag) {
    std::vector<hv::sdk::Domain> made;
    const auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) {
        auto d = c.create(idle(fmt::format("{}-{}", tag, i)));
        if (!d) die("create: " + d.error().message);
        made.push_back(*d);
    }
    const double per = seconds_between(t0, Clock::now()) / static_cast<double>(n);
    for (auto& d : made)
        if (!d.destroy()) die("destroy failed");
    std::printf("  create: %.2f ms each, %.0f creates/s\n", per * 1e3, 1 / per);
    return per;
}

} // namespace

int main(int argc, char** argv) {
    return guarded_main("control_plane", [&] {
        const long domains = arg_long(argc, argv, "domains", 500);
        const long rounds = arg_long(argc, argv, "rounds", 200);
        const long creates = arg_long(argc, argv, "creates", 20);
        rlimit rl{};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);

        Hvd hvd;
        auto conn = hv::sdk::Connection::open(hvd.uri());
        if (!conn) die("connect: " + conn.error().message);
        auto probe = conn->create(idle("probe"));
        if (!probe) die("create: " + probe.error().message);

        std::printf("N=1\n");
        const double lat1 = pause_unpause(*probe, rounds);
        const double create1 = create_time(*conn, creates, "one");

        std::atomic<long> next{1};
        std::vector<std::future<void>> makers;
        for (int t = 0; t < 4; ++t)
            makers.push_back(std::async(std::launch::async, [&] {
                auto c = hv::sdk::Connection::open(hvd.uri());
                if (!c) return;
                for (long i = next++; i < domains; i = next++)
                    if (!c->create(idle(fmt::format("idle-{}", i)))) return;
            }));
        for (auto& m : makers) m.get();
        const size_t n = conn->list()->size();
        if (n != static_cast<size_t>(domains)) die(fmt::format("{} domains instead of {}", n, domains));

        std::printf("N=%ld\n", domains);
        const double latn = pause_unpause(*probe, rounds);
        const double createn = create_time(*conn, creates, "many");

        print_result("control_plane_pause_unpause", latn, lat1, 1e3, "ms");
        // A rate: higher is better, so ours/baseline is rate(N)/rate(1).
        std::printf("RESULT control_plane_create_rate ratio=%.2f ours=%.1f/s baseline=%.1f/s\n", create1 / createn, 1 / createn,
                    1 / create1);
    });
}
