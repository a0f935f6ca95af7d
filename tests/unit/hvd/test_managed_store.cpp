// hvd's managed-domain store (tools/hvd/managed_store.hpp): a name from the
// wire never reaches a path outside the store's folder; records round-trip
// any bytes; the reader refuses every malformed file with a message naming
// it; racing writers never clobber each other's temp file; a non-replacing
// put is atomic; leftover temp files are cleaned.
#include <catch2/catch.hpp>

#include "hv/sdk/wire_types.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "managed_store.hpp"

using hv::Errc;
using hv::sdk::CreateRequest;
using hvd::ManagedStore;
namespace fs = std::filesystem;

namespace {

// base/ holds victim.hvdom; base/managed/ is the store's folder.
struct StoreDir {
    fs::path base;
    fs::path dir;
    StoreDir() {
        base = fs::temp_directory_path() /
               ("hv-managed-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(base);
        dir = base / "managed";
        fs::create_directories(dir);
    }
    ~StoreDir() {
        std::error_code ec;
        fs::remove_all(base, ec);
    }
    StoreDir(const StoreDir&) = delete;
    StoreDir& operator=(const StoreDir&) = delete;
    static inline int counter = 0;
};

void write_raw(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_raw(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

bool has_tmp_file(const fs::path& dir) {
    for (const auto& f : files_in(dir))
        if (f.find(".tmp") != std::string::npos) return true;
    return false;
}

CreateRequest awkward_request() {
    using namespace std::string_literals;
    CreateRequest req;
    req.source = "/tmp/dir with spaces/new\nline/\\back\\slash/nul\0byte/caf\xc3\xa9 \xe2\x98\x83.cfg"s;
    req.overrides = {
        "memory=512"s,
        "name=\"x\"\nextra=1"s,
        ""s,
        "a\0b"s,
        "\\n is not a newline"s,
        "override 3\nabc\n"s,                 // looks like a field
        "\xff\xfe raw bytes \x01\x7f"s,
        "end"s,
    };
    req.config_text = "name = \"d\"\nmemory = 128\n# \xe6\x97\xa5\xe6\x9c\xac\n\0\0trailing\\\n\nend\n"s;
    req.paused = true;
    return req;
}

void require_same(const CreateRequest& a, const CreateRequest& b) {
    REQUIRE(a.source == b.source);
    REQUIRE(a.overrides == b.overrides);
    REQUIRE(a.config_text == b.config_text);
    REQUIRE(a.paused == b.paused);
    REQUIRE(a.spec.has_value() == b.spec.has_value());
    if (a.spec) {
        REQUIRE(a.spec->name == b.spec->name);
        REQUIRE(a.spec->kernel == b.spec->kernel);
        REQUIRE(a.spec->cmdline == b.spec->cmdline);
        REQUIRE(a.spec->ramdisk == b.spec->ramdisk);
        REQUIRE(a.spec->memory_mib == b.spec->memory_mib);
        REQUIRE(a.spec->vcpus == b.spec->vcpus);
        REQUIRE(a.spec->uuid == b.spec->uuid);
        REQUIRE(a.spec->on_poweroff == b.spec->on_poweroff);
        REQUIRE(a.spec->on_reboot == b.spec->on_reboot);
        REQUIRE(a.spec->on_crash == b.spec->on_crash);
    }
}

} // namespace

TEST_CASE("managed store: names that leave the folder are refused and touch nothing", "[managed]") {
    StoreDir d;
    const fs::path victim = d.base / "victim.hvdom";
    const std::string victim_bytes = "the victim's bytes\n";
    write_raw(victim, victim_bytes);
    ManagedStore store(d.dir.string());

    CreateRequest req;
    req.source = "/x.cfg";
    req.config_text = "name = \"x\"\n";

    const std::vector<std::string> bad_names = {"../victim", "../../victim", "..", ".", "a/b", "/etc/passwd", "",
                                                "x\n", std::string("vic\0tim", 7), "../managed/x"};
    for (const auto& name : bad_names) {
        INFO("name: " << name);
        auto r = store.remove(name);
        REQUIRE_FALSE(r);
        REQUIRE(r.error().code == Errc::invalid_argument);
        REQUIRE(r.error().message.rfind("managed domain name '", 0) == 0);

        auto g = store.get(name);
        REQUIRE_FALSE(g);
        REQUIRE(g.error().code == Errc::invalid_argument);

        auto p = store.put(name, req);
        REQUIRE_FALSE(p);
        REQUIRE(p.error().code == Errc::invalid_argument);
        auto pn = store.put(name, req, false);
        REQUIRE_FALSE(pn);
        REQUIRE(pn.error().code == Errc::invalid_argument);
    }
    auto r = store.remove("../victim");
    REQUIRE(r.error().message.find("'../victim'") != std::string::npos);
    REQUIRE(read_raw(victim) == victim_bytes);
    REQUIRE(files_in(d.base) == std::vector<std::string>{"managed", "victim.hvdom"});
    REQUIRE(files_in(d.dir).empty());
}

TEST_CASE("managed store: a refused name's message shows control bytes escaped", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    auto r = store.remove("a\x1b[2Jb");
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == Errc::invalid_argument);
    REQUIRE(r.error().message.find('\x1b') == std::string::npos);
    REQUIRE(r.error().message.find("\\x1b") != std::string::npos);
}

TEST_CASE("managed store: records round-trip newlines, NULs, backslashes, spaces and unicode", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    const CreateRequest req = awkward_request();
    REQUIRE(store.put("odd", req));
    auto back = store.get("odd");
    REQUIRE(back);
    require_same(*back, req);

    // Empty and default fields too.
    CreateRequest empty;
    REQUIRE(store.put("empty", empty));
    auto e = store.get("empty");
    REQUIRE(e);
    require_same(*e, empty);

    // Every single byte value, in every field.
    CreateRequest all;
    for (int i = 0; i < 256; ++i) all.source += static_cast<char>(i);
    all.config_text = all.source + all.source;
    for (int i = 0; i < 256; ++i) all.overrides.emplace_back(1, static_cast<char>(i));
    REQUIRE(store.put("bytes", all));
    auto b = store.get("bytes");
    REQUIRE(b);
    require_same(*b, all);

    REQUIRE(store.names() == std::vector<std::string>{"bytes", "empty", "odd"});
    REQUIRE_FALSE(has_tmp_file(d.dir));

    // The file itself starts with the version line and is readable by parse.
    const std::string raw = read_raw(d.dir / "odd.hvdom");
    REQUIRE(raw.rfind("hvdom 1\nsource ", 0) == 0);
    REQUIRE(raw == ManagedStore::serialize(req));
    struct stat st {};
    REQUIRE(::stat((d.dir / "odd.hvdom").c_str(), &st) == 0);
    REQUIRE((st.st_mode & 0777) == 0600);
}

TEST_CASE("managed store: a typed DomainSpec request round-trips (a crash restart recreates it)", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    CreateRequest req;
    req.spec = hv::sdk::DomainSpec{};
    req.spec->name = "typed";
    req.spec->kernel = "/boot/k\nodd";
    req.spec->cmdline = std::string("x\0y", 3);
    req.spec->ramdisk = "/boot/initrd";
    req.spec->memory_mib = 96;
    req.spec->vcpus = 3;
    req.spec->uuid = hv::sdk::Uuid{9};
    req.spec->on_poweroff = hv::sdk::Action::preserve;
    req.spec->on_reboot = hv::sdk::Action::rename_restart;
    req.spec->on_crash = hv::sdk::Action::restart;
    req.paused = true;
    REQUIRE(store.put("typed", req));
    auto back = store.get("typed");
    REQUIRE(back);
    require_same(*back, req);
    const std::string raw = read_raw(d.dir / "typed.hvdom");
    CHECK(raw.find("\nspec ") != std::string::npos);
    CHECK(raw.find("\nconfig ") == std::string::npos);
    // A spec field whose bytes are not a spec is refused, naming it.
    const std::string broken = "hvdom 1\nsource 0\n\npaused 1\n0\nspec 3\nabc\nend\n";
    auto r = ManagedStore::parse(broken, "f");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "f: field 'spec': create (typed): payload of 3 bytes, want at least 120");
    // The paused flag lives in 'paused' only, and a spec has no source.
    const std::string spec_bytes = *hv::sdk::wire::spec_payload(*req.spec, true);
    const auto record = [&](const std::string& source, const std::string& spec) {
        return "hvdom 1\nsource " + std::to_string(source.size()) + "\n" + source + "\npaused 1\n0\nspec " +
               std::to_string(spec.size()) + "\n" + spec + "\nend\n";
    };
    r = ManagedStore::parse(record("", spec_bytes), "f");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "f: field 'spec' carries the paused flag (field 'paused' says it)");
    r = ManagedStore::parse(record("/etc/x.cfg", *hv::sdk::wire::spec_payload(*req.spec, false)), "f");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "f: a record with field 'spec' has an empty source and no overrides");
    CHECK(ManagedStore::parse(record("", *hv::sdk::wire::spec_payload(*req.spec, false)), "f"));
    // put refuses what the wire cannot carry instead of writing a bad record.
    CreateRequest long_name = req;
    long_name.spec->name = std::string(80, 'n');
    CHECK_FALSE(store.put("long", long_name));
    CHECK_FALSE(std::filesystem::exists(d.dir / "long.hvdom"));
}

TEST_CASE("managed store: get, remove and a missing record", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    auto g = store.get("nope");
    REQUIRE_FALSE(g);
    REQUIRE(g.error().code == Errc::not_found);
    REQUIRE(g.error().message == "no managed domain named 'nope'");
    auto r = store.remove("nope");
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == Errc::not_found);

    CreateRequest req;
    req.config_text = "x";
    REQUIRE(store.put("there", req));
    REQUIRE(store.remove("there"));
    REQUIRE(store.names().empty());
    REQUIRE(files_in(d.dir).empty());
}

TEST_CASE("managed store: put without replace refuses an existing record", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    CreateRequest first;
    first.config_text = "first";
    CreateRequest second;
    second.config_text = "second";

    REQUIRE(store.put("x", first, false));
    auto r = store.put("x", second, false);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == Errc::exists);
    REQUIRE(r.error().message.rfind("managed domain 'x' exists; use replace", 0) == 0);
    REQUIRE(store.get("x")->config_text == "first");
    REQUIRE_FALSE(has_tmp_file(d.dir));

    REQUIRE(store.put("x", second)); // replace defaults to true
    REQUIRE(store.get("x")->config_text == "second");
    REQUIRE(store.put("x", first, true));
    REQUIRE(store.get("x")->config_text == "first");
    REQUIRE(files_in(d.dir) == std::vector<std::string>{"x.hvdom"});
}

TEST_CASE("managed store: concurrent puts of one name never fail and leave one valid record", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    constexpr int kThreads = 8;
    constexpr int kRounds = 50;
    std::atomic<int> failures{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < kThreads) std::this_thread::yield();
            for (int i = 0; i < kRounds; ++i) {
                CreateRequest req;
                req.source = "/writer/" + std::to_string(t);
                req.config_text = std::string(static_cast<size_t>(1000 + t * 100 + i), static_cast<char>('a' + t));
                req.overrides = {std::to_string(i)};
                if (!store.put("same", req)) failures.fetch_add(1);
            }
        });
    }
    for (auto& th : threads) th.join();
    REQUIRE(failures.load() == 0);
    REQUIRE(files_in(d.dir) == std::vector<std::string>{"same.hvdom"});
    auto got = store.get("same");
    REQUIRE(got);
    // Whole, from one writer: its source, config and override agree.
    REQUIRE(got->source.rfind("/writer/", 0) == 0);
    const int t = std::stoi(got->source.substr(8));
    REQUIRE(got->overrides.size() == 1);
    const int i = std::stoi(got->overrides[0]);
    REQUIRE(got->config_text == std::string(static_cast<size_t>(1000 + t * 100 + i), static_cast<char>('a' + t)));
}

TEST_CASE("managed store: of racing non-replacing puts exactly one succeeds", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    constexpr int kThreads = 8;
    for (int round = 0; round < 20; ++round) {
        const std::string name = "race" + std::to_string(round);
        std::atomic<int> ready{0};
        std::atomic<int> won{0};
        std::atomic<int> exists{0};
        std::atomic<int> other{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                CreateRequest req;
                req.source = std::to_string(t);
                ready.fetch_add(1);
                while (ready.load() < kThreads) std::this_thread::yield();
                auto r = store.put(name, req, false);
                if (r) won.fetch_add(1);
                else if (r.error().code == Errc::exists) exists.fetch_add(1);
                else other.fetch_add(1);
            });
        }
        for (auto& th : threads) th.join();
        INFO("round " << round);
        REQUIRE(won.load() == 1);
        REQUIRE(exists.load() == kThreads - 1);
        REQUIRE(other.load() == 0);
        REQUIRE(store.get(name));
    }
    REQUIRE_FALSE(has_tmp_file(d.dir));
    REQUIRE(store.names().size() == 20);
}

TEST_CASE("managed store: clean_leftovers removes a crashed writer's temp files", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    CreateRequest req;
    req.config_text = "kept";
    REQUIRE(store.put("kept", req));
    write_raw(d.dir / "kept.hvdom.tmp.Ab12Cd", "half a rec");
    write_raw(d.dir / "other.hvdom.tmp.XXXXXX", "");
    write_raw(d.dir / "x.hvdom.tmp.zzzzzz", "hvdom 1\n");
    write_raw(d.dir / "notes.txt", "not ours");
    fs::create_directory(d.dir / "dir.hvdom.tmp.qqqqqq");

    REQUIRE(store.names() == std::vector<std::string>{"kept"});
    REQUIRE(store.clean_leftovers() == 3);
    REQUIRE(files_in(d.dir) == std::vector<std::string>{"dir.hvdom.tmp.qqqqqq", "kept.hvdom", "notes.txt"});
    REQUIRE(store.clean_leftovers() == 0);
    REQUIRE(store.get("kept")->config_text == "kept");
}

TEST_CASE("managed store: names lists only regular files with valid names", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    CreateRequest req;
    REQUIRE(store.put("good", req));
    write_raw(d.base / "victim.hvdom", ManagedStore::serialize(req));
    fs::create_symlink(d.base / "victim.hvdom", d.dir / "link.hvdom");
    fs::create_directory(d.dir / "adir.hvdom");
    write_raw(d.dir / std::string("bad\x01name.hvdom"), ManagedStore::serialize(req));
    write_raw(d.dir / "good.cfg", "");
    REQUIRE(store.names() == std::vector<std::string>{"good"});

    // A symlink in the folder is never followed by get, and remove drops the
    // link, never its target.
    auto g = store.get("link");
    REQUIRE_FALSE(g);
    REQUIRE(g.error().message.find("symbolic link") != std::string::npos);
    REQUIRE(store.remove("link"));
    REQUIRE(fs::exists(d.base / "victim.hvdom"));
}

TEST_CASE("managed store: corrupt, truncated and old-format files are refused clearly", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    const fs::path file = d.dir / "bad.hvdom";
    const std::string path = file.string();

    auto refused = [&](const std::string& bytes) {
        write_raw(file, bytes);
        auto r = store.get("bad");
        REQUIRE_FALSE(r);
        REQUIRE(r.error().code == Errc::parse_error);
        REQUIRE(r.error().message.rfind(path + ": ", 0) == 0);
        return r.error().message;
    };

    SECTION("old format") {
        REQUIRE_THAT(refused("source /a.cfg\noverride memory=1\nconfig\nname=\"a\"\n"),
                     Catch::Contains("old-format record"));
        REQUIRE_THAT(refused("config\nname=\"a\"\n"), Catch::Contains("old-format record"));
    }
    SECTION("not a record, other version, empty") {
        REQUIRE_THAT(refused("garbage"), Catch::Contains("not a managed-domain record"));
        REQUIRE_THAT(refused(""), Catch::Contains("empty file"));
        REQUIRE_THAT(refused("hvdom 2\nsource 0\n\n"), Catch::Contains("version 'hvdom 2' is not supported"));
        REQUIRE_THAT(refused("hvdom 1"), Catch::Contains("truncated"));
    }
    SECTION("every proper prefix of a valid record is refused") {
        const std::string good = ManagedStore::serialize(awkward_request());
        for (size_t n = 0; n < good.size(); ++n) {
            INFO("prefix of " << n << " bytes");
            refused(good.substr(0, n));
        }
        write_raw(file, good);
        REQUIRE(store.get("bad"));
    }
    SECTION("unknown, repeated, out-of-order and missing fields") {
        REQUIRE_THAT(refused("hvdom 1\nsource 0\n\ncolour 3\nred\npaused 1\n0\nconfig 0\n\nend\n"),
                     Catch::Contains("unknown field 'colour'"));
        REQUIRE_THAT(refused("hvdom 1\nsource 0\n\nsource 0\n\npaused 1\n0\nconfig 0\n\nend\n"),
                     Catch::Contains("field 'source' out of order or repeated"));
        REQUIRE_THAT(refused("hvdom 1\npaused 1\n0\nsource 0\n\nconfig 0\n\nend\n"),
                     Catch::Contains("field 'paused' out of order"));
        REQUIRE_THAT(refused("hvdom 1\nsource 0\n\nconfig 0\n\nend\n"), Catch::Contains("field 'config' out of order"));
        REQUIRE_THAT(refused("hvdom 1\nsource 0\n\npaused 1\n0\nend\n"), Catch::Contains("'end' too early"));
    }
    SECTION("bad lengths and values") {
        REQUIRE_THAT(refused("hvdom 1\nsource 99999999\n"), Catch::Contains("over the 2097152-byte record limit"));
        REQUIRE_THAT(refused("hvdom 1\nsource 999999999\n"), Catch::Contains("malformed length"));
        REQUIRE_THAT(refused("hvdom 1\nsource 05\nabcde\n"), Catch::Contains("malformed length '05'"));
        REQUIRE_THAT(refused("hvdom 1\nsource -1\n"), Catch::Contains("malformed length '-1'"));
        REQUIRE_THAT(refused("hvdom 1\nsource 1x\n"), Catch::Contains("malformed length"));
        REQUIRE_THAT(refused("hvdom 1\nsource\n"), Catch::Contains("malformed key line"));
        REQUIRE_THAT(refused("hvdom 1\nsource 5\nab\n"), Catch::Contains("truncated: field 'source' says 5 bytes"));
        REQUIRE_THAT(refused("hvdom 1\nsource 2\nabc\n"), Catch::Contains("not followed by a newline"));
        REQUIRE_THAT(refused("hvdom 1\nsource 0\n\npaused 3\nyes\nconfig 0\n\nend\n"),
                     Catch::Contains("field 'paused' is 'yes'"));
        REQUIRE_THAT(refused("hvdom 1\nsource 0\n\npaused 1\n0\nconfig 0\n\nend\nmore"),
                     Catch::Contains("4 unexpected bytes after 'end'"));
        REQUIRE_THAT(refused("hvdom 1\nsource 0\n\npaused 1\n0\nconfig 0\n\nfin\n"), Catch::Contains("expected 'end'"));
        REQUIRE_THAT(refused("hvdom 1\n" + std::string(100, 'k')), Catch::Contains("longer than"));
    }
    SECTION("a file over the limit") {
        REQUIRE_THAT(refused("hvdom 1\n" + std::string(ManagedStore::kMaxRecordBytes, 'x')),
                     Catch::Contains("over the 2097152-byte record limit"));
    }
}

TEST_CASE("managed store: a record over 2 MiB is refused at put", "[managed]") {
    StoreDir d;
    ManagedStore store(d.dir.string());
    CreateRequest big;
    big.config_text = std::string(ManagedStore::kMaxRecordBytes, 'x');
    auto r = store.put("big", big);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == Errc::invalid_argument);
    REQUIRE_THAT(r.error().message, Catch::Contains("over the 2097152-byte limit"));
    REQUIRE(files_in(d.dir).empty());

    CreateRequest fits;
    fits.config_text = std::string(ManagedStore::kMaxRecordBytes - 100, 'x');
    REQUIRE(store.put("fits", fits));
    REQUIRE(store.get("fits")->config_text.size() == fits.config_text.size());
}
