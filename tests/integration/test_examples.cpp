// The SDK example programs (examples/), run as a user runs them: against
// embedded:// (a monitor inside the example) and against a private hvd.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "hv/sdk/connection.hpp"
#include "hvctl_runner.hpp"
#include "hvd_harness.hpp"

using namespace hvtest;
using namespace std::chrono_literals;

namespace {

// A hello guest config file; `extra_keys`: more xl.cfg lines.
std::string write_config(const TempDir& dir, const std::string& name, const std::string& extra,
                         const std::string& extra_keys = "") {
    return dir.write(name + ".cfg", fmt::format("name = \"{}\"\nkernel = \"{}\"\nmemory = 16\nvcpus = 1\nextra = \"{}\"\n{}",
                                                name, hello_guest(), extra, extra_keys));
}

// The example that $EXAMPLE_<var> names, with these words; stdout and
// stderr captured; killed (and the test failed) after `limit`.
Run run_example(const TempDir& dir, const char* var, const std::string& args, int limit_s = 60) {
    static int runs = 0;
    const auto out = dir.path() / fmt::format("stdout.{}", ++runs);
    const auto err = dir.path() / fmt::format("stderr.{}", runs);
    const std::string cmd = fmt::format("env -u HV_CONNECT timeout -s KILL {} '{}' {} </dev/null >'{}' 2>'{}'", limit_s,
                                        env_path(var), args, out.string(), err.string());
    const int raw = std::system(cmd.c_str());
    Run r{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
    INFO(var << " " << args << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE(r.status != 137); // timeout's SIGKILL
    return r;
}

// An example running in the background (posix_spawn), output to files;
// killed when the test ends with it still running.
class Background {
public:
    Background(const TempDir& dir, const char* var, std::vector<std::string> args)
        : out_(dir.path() / "bg.stdout"), err_(dir.path() / "bg.stderr") {
        args.insert(args.begin(), env_path(var));
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        REQUIRE(rc == 0);
    }
    ~Background() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;

    void signal(int sig) const { ::kill(pid_, sig); }
    // Its exit status, or -1 when it is still running after `timeout`.
    int wait(std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > end) return -1;
            std::this_thread::sleep_for(10ms);
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::string out() const { return slurp(out_); }
    std::string err() const { return slurp(err_); }

private:
    std::filesystem::path out_, err_;
    pid_t pid_ = -1;
};

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// Polls `path` until it contains `text`.
bool wait_file(const std::filesystem::path& path, const std::string& text, std::chrono::seconds timeout = 20s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (contains(slurp(path), text)) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// "key":NUMBER in a JSON line.
double json_number(const std::string& line, const std::string& key) {
    const size_t at = line.find("\"" + key + "\":");
    REQUIRE(at != std::string::npos);
    return std::stod(line.substr(at + key.size() + 3));
}

void check_lifecycle(const std::string& uri) {
    TempDir dir;
    const std::string cfg = write_config(dir, "lc", "poweroff");
    const Run r = run_example(dir, "EXAMPLE_LIFECYCLE", uri + " " + cfg);
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "Name                                        ID   Mem VCPUs      State   Time(s)\n"));
    bool a = false, b = false;
    for (const auto& line : lines_of(r.out)) {
        a = a || line.rfind("lc-a ", 0) == 0;
        b = b || line.rfind("lc-b ", 0) == 0;
    }
    CHECK(a);
    CHECK(b);
    CHECK(contains(r.out, "hello from domain"));
    CHECK(contains(r.out, "hello: 1 vcpus up"));
    CHECK(contains(r.out, "paused\n"));
    CHECK(contains(r.out, "unpaused\n"));
    CHECK(contains(r.out, "shut down\n"));
    CHECK(contains(r.out, "destroyed\n"));

    const Run missing = run_example(dir, "EXAMPLE_LIFECYCLE", uri + " " + (dir.path() / "none.cfg").string());
    CHECK(missing.status == 1);
    CHECK(contains(missing.err, "none.cfg"));
    CHECK(run_example(dir, "EXAMPLE_LIFECYCLE", "").status == 2);
}

// A crashing domain comes back again and again, further apart each time.
void check_restarts(const std::vector<std::string>& lines, const std::string& name) {
    std::string seq; // C: created, X: crashed
    std::vector<double> created, delays;
    for (const auto& line : lines) {
        if (!contains(line, "\"name\":\"" + name + "\"")) continue;
        if (contains(line, "\"event\":\"created\"")) {
            seq += 'C';
            created.push_back(json_number(line, "t"));
        }
        if (contains(line, "\"event\":\"shutdown\"") && contains(line, "\"reason\":\"crash\"")) seq += 'X';
        if (contains(line, "\"action\":\"restart\"")) delays.push_back(json_number(line, "delay_s"));
    }
    INFO(name << ": " << seq);
    CHECK(seq.rfind("CXCXC", 0) == 0);
    REQUIRE(created.size() >= 3);
    REQUIRE(delays.size() >= 2);
    CHECK(delays[0] == 1);
    CHECK(delays[1] == 2);
    const double gap1 = created[1] - created[0], gap2 = created[2] - created[1];
    CHECK(gap1 >= 0.9);
    CHECK(gap2 >= 1.9);
    CHECK(gap2 > gap1 + 0.5);
}

void check_cloud_agent(const std::string& uri) {
    TempDir dir;
    const std::string crashy = write_config(dir, "crashy", "crash", "on_crash = \"destroy\"\n");
    const std::string wreck = write_config(dir, "wreck", "crash", "on_crash = \"preserve\"\n");
    const std::string steady = write_config(dir, "steady", "stay");
    const auto start = std::chrono::steady_clock::now();
    const Run r = run_example(dir, "EXAMPLE_CLOUD_AGENT",
                              fmt::format("{} --run-for 6 --report-interval 2 {} {} {}", uri, crashy, wreck, steady));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    CHECK(r.status == 0);
    CHECK(took >= 6);
    CHECK(took < 20);
    const auto lines = lines_of(r.out);
    REQUIRE(!lines.empty());
    for (const auto& line : lines) CHECK((line.front() == '{' && line.back() == '}'));
    check_restarts(lines, "crashy");
    check_restarts(lines, "wreck");
    size_t steady_reports = 0, destroyed = 0;
    for (const auto& line : lines) {
        if (contains(line, "{\"report\":{\"name\":\"steady\",\"domid\":") && contains(line, "\"vcpus\":1,")) ++steady_reports;
        if (contains(line, "{\"action\":\"destroy\",")) {
            CHECK(contains(line, "\"name\":\"steady\"")); // the others are waiting to be created again
            ++destroyed;
        }
    }
    CHECK(steady_reports >= 2);
    CHECK(destroyed == 1);
    CHECK(contains(r.out, "{\"report\":{\"name\":\"crashy\",\"state\":\"restarting\""));
    CHECK(contains(lines.back(), "\"action\":\"destroy\""));
    CHECK(run_example(dir, "EXAMPLE_CLOUD_AGENT", uri + " --run-for").status == 2);
    const Run bad = run_example(dir, "EXAMPLE_CLOUD_AGENT", uri + " --run-for 1 " + (dir.path() / "none.cfg").string());
    CHECK(bad.status == 1);
    CHECK(contains(bad.err, "none.cfg"));
}

} // namespace

TEST_CASE("examples/lifecycle creates, lists, pauses, shuts down and destroys", "[kvm][examples]") {
    SECTION("embedded://") { check_lifecycle("embedded://"); }
    SECTION("hvd") {
        HvdProcess hvd;
        check_lifecycle(hvd.uri());
        auto conn = hv::sdk::Connection::open(hvd.uri());
        REQUIRE(conn);
        CHECK(conn->list()->empty());
    }
}

TEST_CASE("examples/cloud_agent reports in JSON and restarts crashed domains with back-off", "[kvm][examples]") {
    SECTION("embedded://") { check_cloud_agent("embedded://"); }
    SECTION("hvd") {
        HvdProcess hvd;
        check_cloud_agent(hvd.uri());
        auto conn = hv::sdk::Connection::open(hvd.uri());
        REQUIRE(conn);
        CHECK(conn->list()->empty()); // it destroyed what it created
    }
}

TEST_CASE("examples/console_tee copies a console to stdout and a file until the domain stops", "[kvm][examples]") {
    TempDir dir;
    const auto file = dir.path() / "console.log";
    dir.write("console.log", "earlier\n");
    SECTION("hvd: until the domain shuts down") {
        HvdProcess hvd;
        auto conn = hv::sdk::Connection::open(hvd.uri());
        REQUIRE(conn);
        auto dom = conn->create_from_file(write_config(dir, "tee", "stay"));
        REQUIRE(dom);
        Background tee(dir, "EXAMPLE_CONSOLE_TEE", {hvd.uri(), "tee", file.string()});
        REQUIRE(wait_file(file, "hello: 1 vcpus up"));
        REQUIRE(dom->shutdown());
        const int status = tee.wait(10s);
        INFO("stdout:\n" << tee.out() << "\nstderr:\n" << tee.err());
        CHECK(status == 0);
        const std::string text = slurp(file);
        CHECK(text.rfind("earlier\n", 0) == 0); // appended
        CHECK(contains(text, fmt::format("hello from domain {} vcpu 0 of 1\n", dom->id())));
        CHECK(contains(text, "hello: shutdown requested: poweroff\n"));
        CHECK(text == "earlier\n" + tee.out());
    }
    SECTION("hvd: until SIGINT") {
        HvdProcess hvd;
        auto conn = hv::sdk::Connection::open(hvd.uri());
        REQUIRE(conn);
        auto dom = conn->create_from_file(write_config(dir, "tee", "stay"));
        REQUIRE(dom);
        Background tee(dir, "EXAMPLE_CONSOLE_TEE", {hvd.uri(), std::to_string(dom->id()), file.string()});
        REQUIRE(wait_file(file, "hello: 1 vcpus up"));
        tee.signal(SIGINT);
        CHECK(tee.wait(5s) == 0);
        CHECK(contains(tee.out(), "hello from domain"));
        auto info = dom->info();
        REQUIRE(info);
        CHECK(info->exists); // still there
        CHECK(dom->destroy());
    }
    SECTION("embedded://: no such domain in a monitor of its own") {
        const Run r = run_example(dir, "EXAMPLE_CONSOLE_TEE", "embedded:// tee " + file.string());
        CHECK(r.status == 1);
        CHECK(contains(r.err, "tee"));
        CHECK(run_example(dir, "EXAMPLE_CONSOLE_TEE", "tee").status == 2);
    }
}
