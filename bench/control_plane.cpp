// control_plane: hvd holding N=500 idle domains against hvd holding one,
// side by side in one run. Two private hvds run at once, one filled to N;
// the measurements alternate between them, so load from other work on the
// machine (which drifts over seconds) and the host's own cost of 501 VMs
// fall on both sides alike, and the ratio is what N domains cost hvd:
//   pause+unpause latency of one domain (the index makes it O(1) calls to
//   domain processes, whatever N), and
//   the create rate (back-to-back creates in batches, each batch timed
//   whole, so spawning the next warm process is part of the rate; the
//   ratio is the median over pairs of batches, one at 1 and one at N).
// Prints
//   RESULT control_plane_pause_unpause ratio=<at N / at 1> ...
//   RESULT control_plane_create_rate ratio=<at N / at 1> ...   (creates/s)
//   --domains=N (default 500) --rounds=K pause+unpause pairs (default 200)
//   --creates=C timed creates at each N (default 60, in batches of 5)
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
    // The socket of the domain process that holds `name` (asked of each).
    std::string process_socket_of(const std::string& name) const {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(dir_ / "state" / "run", ec)) {
            if (e.path().extension() != ".sock") continue;
            auto c = hv::sdk::Connection::open("unix://" + e.path().string());
            if (c && c->domain(name)) return e.path().string();
        }
        die("no domain process holds " + name);
    }
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

// One pause+unpause pair, in seconds.
double pause_unpause(const hv::sdk::Domain& d) {
    const auto t0 = Clock::now();
    if (!d.pause() || !d.unpause()) die("pause/unpause failed");
    return seconds_between(t0, Clock::now());
}

// Seconds for `n` back-to-back creates; the domains are added to `made`.
double create_batch(const hv::sdk::Connection& c, long n, const std::string& tag, long& serial,
                    std::vector<hv::sdk::Domain>& made) {
    const auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) {
        auto d = c.create(idle(fmt::format("{}-{}", tag, serial++)));
        if (!d) die("create: " + d.error().message);
        made.push_back(*d);
    }
    return seconds_between(t0, Clock::now());
}

} // namespace

int main(int argc, char** argv) {
    return guarded_main("control_plane", [&] {
        const long domains = arg_long(argc, argv, "domains", 500);
        const long rounds = arg_long(argc, argv, "rounds", 200);
        rlimit rl{};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);

        const long creates = arg_long(argc, argv, "creates", 60);
        constexpr long kBatch = 5;

        Hvd one, many;
        auto c1 = hv::sdk::Connection::open(one.uri());
        auto cn = hv::sdk::Connection::open(many.uri());
        if (!c1 || !cn) die("connect: " + (c1 ? cn : c1).error().message);
        auto p1 = c1->create(idle("probe"));
        auto pn = cn->create(idle("probe"));
        if (!p1 || !pn) die("create: " + (p1 ? pn : p1).error().message);

        // The create rate at N=1 before the host holds the other hvd's N
        // domains (issue 6's "creates/s at N=1" figure).
        {
            double t = 0;
            long serial0 = 0;
            for (int b = 0; b < 4; ++b) {
                std::vector<hv::sdk::Domain> made;
                t += create_batch(*c1, kBatch, "alone", serial0, made);
                for (auto& d : made)
                    if (!d.destroy()) die("destroy failed");
            }
            std::printf("RESULT control_plane_create_rate_alone ours=%.1f/s (N=1, nothing else on the host)\n",
                        static_cast<double>(4 * kBatch) / t);
        }

        std::atomic<long> next{1};
        std::vector<std::future<void>> makers;
        for (int t = 0; t < 4; ++t)
            makers.push_back(std::async(std::launch::async, [&] {
                auto c = hv::sdk::Connection::open(many.uri());
                if (!c) return;
                for (long i = next++; i < domains; i = next++)
                    if (!c->create(idle(fmt::format("idle-{}", i)))) return;
            }));
        for (auto& m : makers) m.get();
        const size_t n = cn->list()->size();
        if (n != static_cast<size_t>(domains)) die(fmt::format("{} domains instead of {}", n, domains));

        // Alternating, and which side goes first alternates too.
        std::vector<double> lat1, latn;
        for (long r = 0; r < rounds; ++r) {
            if (r % 2 == 0) {
                lat1.push_back(pause_unpause(*p1));
                latn.push_back(pause_unpause(*pn));
            } else {
                latn.push_back(pause_unpause(*pn));
                lat1.push_back(pause_unpause(*p1));
            }
        }
        std::printf("pause+unpause at N=1:   %s ms\n", spread(lat1, 1e3).c_str());
        std::printf("pause+unpause at N=%ld: %s ms\n", domains, spread(latn, 1e3).c_str());
        // The same pairs sent straight to each probe's domain process,
        // without hvd: what the host itself adds at N.
        {
            auto d1 = hv::sdk::Connection::open("unix://" + one.process_socket_of("probe"));
            auto dn = hv::sdk::Connection::open("unix://" + many.process_socket_of("probe"));
            if (!d1 || !dn) die("connect to a domain process");
            auto q1 = d1->domain("probe");
            auto qn = dn->domain("probe");
            if (!q1 || !qn) die("probe lookup");
            std::vector<double> v1, vn;
            for (long r = 0; r < rounds; ++r) {
                v1.push_back(pause_unpause(*q1));
                vn.push_back(pause_unpause(*qn));
            }
            std::printf("direct to the domain process, N=1:   %s ms\n", spread(v1, 1e3).c_str());
            std::printf("direct to the domain process, N=%ld: %s ms\n", domains, spread(vn, 1e3).c_str());
            std::printf("RESULT control_plane_pause_unpause_direct ratio=%.2f ours=%.3fms baseline=%.3fms\n",
                        median(vn) / median(v1), median(vn) * 1e3, median(v1) * 1e3);
        }

        // Each pair of batches (one at 1, one at N, back to back) gives a
        // ratio; their median is the figure, so a burst of other work on
        // the machine during one batch does not decide it.
        double t1 = 0, tn = 0;
        std::vector<double> pair_ratios;
        long done = 0, serial = 0;
        for (long b = 0; done < creates; ++b) {
            const long k = std::min(kBatch, creates - done);
            std::vector<hv::sdk::Domain> made;
            double b1 = 0, bn = 0;
            if (b % 2 == 0) {
                b1 = create_batch(*c1, k, "one", serial, made);
                bn = create_batch(*cn, k, "many", serial, made);
            } else {
                bn = create_batch(*cn, k, "many", serial, made);
                b1 = create_batch(*c1, k, "one", serial, made);
            }
            t1 += b1;
            tn += bn;
            pair_ratios.push_back(b1 / bn); // rate at N / rate at 1
            for (auto& d : made) // untimed: N stays N
                if (!d.destroy()) die("destroy failed");
            done += k;
        }
        const double rate1 = static_cast<double>(creates) / t1, raten = static_cast<double>(creates) / tn;
        std::printf("creates at N=1: %.0f/s; at N=%ld: %.0f/s (all batches); batch-pair ratios %s\n", rate1, domains,
                    raten, spread(pair_ratios, 1).c_str());

        print_result("control_plane_pause_unpause", median(latn), median(lat1), 1e3, "ms");
        // A rate: higher is better, so ours/baseline is rate(N)/rate(1).
        std::printf("RESULT control_plane_create_rate ratio=%.2f ours=%.1f/s baseline=%.1f/s\n", median(pair_ratios), raten,
                    rate1);
    });
}
