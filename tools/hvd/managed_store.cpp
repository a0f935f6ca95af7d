#include "managed_store.hpp"

#include <hv/sdk/wire_types.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "hv/abi/domain_name.h"

namespace hvd {

using hv::Errc;
using hv::make_error;

namespace {

constexpr std::string_view kHeader = "hvdom 1";
constexpr std::string_view kTmpInfix = ".hvdom.tmp.";
// A key line ("override 2097152") is short; the reader looks no further.
constexpr size_t kMaxKeyLine = 32;

// A name for a message: bytes outside printable ASCII shown as \xNN, so a
// hostile name cannot put control characters on a user's terminal.
std::string shown(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '\\') out += c;
        else out += fmt::format("\\x{:02x}", static_cast<unsigned>(u));
    }
    return out;
}

std::string errno_text(int err) { return std::strerror(err); }

void fsync_dir(const std::string& dir) {
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd); // the rename or unlink itself is durable
        ::close(dfd);
    }
}

void put_field(std::string& out, std::string_view key, std::string_view value) {
    out += key;
    out += ' ';
    out += std::to_string(value.size());
    out += '\n';
    out += value;
    out += '\n';
}

// The strict reader of a version-1 record.
class Reader {
public:
    Reader(std::string_view bytes, const std::string& where) : in_(bytes), where_(where) {}

    hv::Result<hv::sdk::CreateRequest> run() {
        if (auto r = header(); !r) return r.error();
        hv::sdk::CreateRequest req;
        auto key = next_key();
        if (!key) return key.error();
        if (*key != "source") return order_error(*key, "source");
        auto source = value("source");
        if (!source) return source.error();
        req.source = std::move(*source);
        for (;;) {
            key = next_key();
            if (!key) return key.error();
            if (*key != "override") break;
            auto o = value("override");
            if (!o) return o.error();
            req.overrides.push_back(std::move(*o));
        }
        if (*key != "paused") return order_error(*key, "override or paused");
        auto paused = value("paused");
        if (!paused) return paused.error();
        if (*paused != "0" && *paused != "1")
            return fail(fmt::format("field 'paused' is '{}', not 0 or 1", shown(*paused)));
        req.paused = *paused == "1";
        key = next_key();
        if (!key) return key.error();
        if (*key != "config" && *key != "spec") return order_error(*key, "config or spec");
        const std::string field(*key);
        auto config = value(field);
        if (!config) return config.error();
        if (field == "spec") { // a typed DomainSpec, in CREATE_SPEC's wire form
            bool spec_paused = false;
            auto spec = hv::sdk::wire::spec_from_payload(*config, spec_paused);
            if (!spec) return fail("field 'spec': " + spec.error().message);
            // One place for each fact: 'paused' says paused, and a spec
            // has no xl.cfg source or overrides to go with it.
            if (spec_paused) return fail("field 'spec' carries the paused flag (field 'paused' says it)");
            if (!req.source.empty() || !req.overrides.empty())
                return fail("a record with field 'spec' has an empty source and no overrides");
            req.spec = std::move(*spec);
        } else {
            req.config_text = std::move(*config);
        }
        auto end = line("the 'end' line");
        if (!end) return end.error();
        if (*end != "end") return fail(fmt::format("expected 'end' after field '{}', found '{}'", field, shown(*end)));
        if (pos_ != in_.size())
            return fail(fmt::format("{} unexpected bytes after 'end'", in_.size() - pos_));
        return req;
    }

private:
    hv::Error fail(const std::string& what) const {
        return make_error(Errc::parse_error, fmt::format("{}: {}", where_, what));
    }
    hv::Error order_error(std::string_view key, std::string_view expected) const {
        static constexpr std::string_view known[] = {"source", "override", "paused", "config", "spec"};
        if (std::find(std::begin(known), std::end(known), key) == std::end(known))
            return fail(fmt::format("unknown field '{}' (expected {})", shown(key), expected));
        return fail(fmt::format("field '{}' out of order or repeated (expected {})", shown(key), expected));
    }

    // A line of at most kMaxKeyLine bytes, without its '\n'.
    hv::Result<std::string_view> line(std::string_view what) {
        const std::string_view rest = in_.substr(pos_);
        const size_t nl = rest.substr(0, kMaxKeyLine + 1).find('\n');
        if (nl == std::string_view::npos) {
            if (rest.size() <= kMaxKeyLine) return fail(fmt::format("truncated: {} is cut off", what));
            return fail(fmt::format("{} is longer than {} bytes", what, kMaxKeyLine));
        }
        pos_ += nl + 1;
        return rest.substr(0, nl);
    }

    hv::Result<void> header() {
        const std::string_view rest = in_;
        const size_t nl = rest.find('\n');
        const std::string_view first = rest.substr(0, nl == std::string_view::npos ? rest.size() : nl);
        if (nl != std::string_view::npos && first == kHeader) {
            pos_ = nl + 1;
            return {};
        }
        if (first == kHeader) return fail("truncated: the 'hvdom 1' line is cut off");
        if (first.rfind("source ", 0) == 0 || first.rfind("override ", 0) == 0 || first == "config")
            return fail("an old-format record (from before the 'hvdom 1' format), refused; "
                        "define the domain again with 'new'");
        if (first.rfind("hvdom ", 0) == 0)
            return fail(fmt::format("record version '{}' is not supported (this hvd reads 'hvdom 1')",
                                    shown(first.substr(0, kMaxKeyLine))));
        if (rest.empty()) return fail("empty file, not a managed-domain record");
        return fail("not a managed-domain record (the first line is not 'hvdom 1')");
    }

    // "key" of a "key <len>" line; the length is kept for value().
    hv::Result<std::string_view> next_key() {
        auto l = line("a field's key line");
        if (!l) return l.error();
        const std::string_view text = *l;
        const size_t sp = text.find(' ');
        if (sp == std::string_view::npos) {
            if (text == "end") return fail("'end' too early: a required field is missing");
            return fail(fmt::format("malformed key line '{}' (expected '<key> <length>')", shown(text)));
        }
        const std::string_view key = text.substr(0, sp);
        const std::string_view digits = text.substr(sp + 1);
        if (digits.empty() || digits.size() > 8 || (digits.size() > 1 && digits[0] == '0') ||
            !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return fail(fmt::format("field '{}' has a malformed length '{}'", shown(key), shown(digits)));
        size_t len = 0;
        for (const char c : digits) len = len * 10 + static_cast<size_t>(c - '0');
        if (len > ManagedStore::kMaxRecordBytes)
            return fail(fmt::format("field '{}' says {} bytes, over the {}-byte record limit", shown(key), len,
                                    ManagedStore::kMaxRecordBytes));
        len_ = len;
        return key;
    }

    hv::Result<std::string> value(std::string_view key) {
        const size_t left = in_.size() - pos_;
        if (len_ > left || left - len_ < 1)
            return fail(fmt::format("truncated: field '{}' says {} bytes and a newline, {} bytes remain", key,
                                    len_, left));
        std::string v(in_.substr(pos_, len_));
        pos_ += len_;
        if (in_[pos_] != '\n') return fail(fmt::format("field '{}' is not followed by a newline", key));
        ++pos_;
        return v;
    }

    std::string_view in_;
    const std::string& where_;
    size_t pos_ = 0;
    size_t len_ = 0;
};

// Opens `path` for reading without following a symlink and without blocking
// on a FIFO planted in its place; refuses anything but a regular file.
hv::Result<std::string> read_record_file(const std::string& path, const std::string& name) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) return make_error(Errc::not_found, fmt::format("no managed domain named '{}'", name));
        if (err == ELOOP)
            return make_error(Errc::io_error, fmt::format("{}: is a symbolic link; refused", path));
        return make_error(Errc::io_error, fmt::format("{}: {}", path, errno_text(err)));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return make_error(Errc::io_error, fmt::format("{}: fstat: {}", path, errno_text(err)));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(Errc::io_error, fmt::format("{}: not a regular file; refused", path));
    }
    if (st.st_size < 0 || static_cast<unsigned long long>(st.st_size) > ManagedStore::kMaxRecordBytes) {
        ::close(fd);
        return make_error(Errc::parse_error, fmt::format("{}: {} bytes, over the {}-byte record limit", path,
                                                         st.st_size, ManagedStore::kMaxRecordBytes));
    }
    // Read at most one byte past the limit, whatever the size said.
    std::string bytes(ManagedStore::kMaxRecordBytes + 1, '\0');
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return make_error(Errc::io_error, fmt::format("{}: read: {}", path, errno_text(err)));
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    if (done > ManagedStore::kMaxRecordBytes)
        return make_error(Errc::parse_error,
                          fmt::format("{}: over the {}-byte record limit", path, ManagedStore::kMaxRecordBytes));
    bytes.resize(done);
    return bytes;
}

} // namespace

hv::Result<void> write_file_atomic(const std::string& path, const std::string& bytes, bool replace) {
    std::string tmp = path + ".tmp.XXXXXX";
    const int fd = ::mkostemp(tmp.data(), O_CLOEXEC); // 0600, a name no other writer has
    if (fd < 0) return make_error(Errc::io_error, fmt::format("{}: {}", tmp, errno_text(errno)));
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return make_error(Errc::io_error, fmt::format("{}: write: {}", tmp, errno_text(err)));
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return make_error(Errc::io_error, fmt::format("{}: fsync: {}", tmp, errno_text(err)));
    }
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return make_error(Errc::io_error, fmt::format("{}: close: {}", tmp, errno_text(err)));
    }
    if (replace) {
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            const int err = errno;
            ::unlink(tmp.c_str());
            return make_error(Errc::io_error, fmt::format("rename {} -> {}: {}", tmp, path, errno_text(err)));
        }
    } else {
        // Atomic "create if absent": of racing writers exactly one wins.
        int rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
        int err = rc == 0 ? 0 : errno;
        if (rc != 0 && (err == EINVAL || err == ENOSYS || err == ENOTSUP)) {
            // A filesystem without RENAME_NOREPLACE: link() fails if the
            // target exists, just as atomically.
            rc = ::link(tmp.c_str(), path.c_str());
            err = rc == 0 ? 0 : errno;
            if (rc == 0) ::unlink(tmp.c_str()); // linked: drop the temp name
        }
        if (rc != 0) {
            ::unlink(tmp.c_str());
            if (err == EEXIST) return make_error(Errc::exists, fmt::format("{}: exists", path));
            return make_error(Errc::io_error, fmt::format("rename {} -> {}: {}", tmp, path, errno_text(err)));
        }
    }
    fsync_dir(std::filesystem::path(path).parent_path().string());
    return {};
}

std::string ManagedStore::serialize(const hv::sdk::CreateRequest& req) {
    std::string out;
    out.reserve(64 + req.source.size() + req.config_text.size());
    out += kHeader;
    out += '\n';
    put_field(out, "source", req.source);
    for (const auto& o : req.overrides) put_field(out, "override", o);
    put_field(out, "paused", req.paused ? "1" : "0");
    if (req.spec) {
        // The wire form, without the paused flag ('paused' above says it).
        // A spec the ABI cannot carry is refused by put() and was refused
        // by the create that led to any other caller.
        auto spec = hv::sdk::wire::spec_payload(*req.spec, false);
        put_field(out, "spec", spec ? *spec : std::string());
    } else {
        put_field(out, "config", req.config_text);
    }
    out += "end\n";
    return out;
}

hv::Result<hv::sdk::CreateRequest> ManagedStore::parse(std::string_view bytes, const std::string& where) {
    if (bytes.size() > kMaxRecordBytes)
        return make_error(Errc::parse_error,
                          fmt::format("{}: {} bytes, over the {}-byte record limit", where, bytes.size(), kMaxRecordBytes));
    return Reader(bytes, where).run();
}

hv::Result<void> ManagedStore::check_name(const std::string& name) const {
    if (const char* problem = hv_domain_name_problem(name.data(), name.size()))
        return make_error(Errc::invalid_argument, fmt::format("managed domain name '{}': {}", shown(name), problem));
    return {};
}

hv::Result<void> ManagedStore::put(const std::string& name, const hv::sdk::CreateRequest& req, bool replace) {
    if (auto r = check_name(name); !r) return r;
    if (req.spec) {
        if (!req.source.empty() || !req.overrides.empty())
            return make_error(Errc::invalid_argument, fmt::format("managed domain '{}': a spec has no source or overrides", name));
        if (auto p = hv::sdk::wire::spec_payload(*req.spec, false); !p) return p.error();
    }
    const std::string bytes = serialize(req);
    if (bytes.size() > kMaxRecordBytes)
        return make_error(Errc::invalid_argument,
                          fmt::format("managed domain '{}': its record would be {} bytes, over the {}-byte limit", name,
                                      bytes.size(), kMaxRecordBytes));
    auto r = write_file_atomic(path_of(name), bytes, replace);
    if (!r && r.error().code == Errc::exists)
        return make_error(Errc::exists,
                          fmt::format("managed domain '{}' exists; use replace to overwrite it", name));
    return r;
}

hv::Result<hv::sdk::CreateRequest> ManagedStore::get(const std::string& name) const {
    if (auto r = check_name(name); !r) return r.error();
    const std::string path = path_of(name);
    auto bytes = read_record_file(path, name);
    if (!bytes) return bytes.error();
    return parse(*bytes, path);
}

hv::Result<void> ManagedStore::remove(const std::string& name) {
    if (auto r = check_name(name); !r) return r;
    const std::string path = path_of(name);
    if (::unlink(path.c_str()) != 0) { // a symlink itself is removed, never its target
        const int err = errno;
        if (err == ENOENT) return make_error(Errc::not_found, fmt::format("no managed domain named '{}'", name));
        return make_error(Errc::io_error, fmt::format("{}: {}", path, errno_text(err)));
    }
    fsync_dir(dir_);
    return {};
}

std::vector<std::string> ManagedStore::names() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir_, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        const auto& path = it->path();
        if (path.extension() != ".hvdom") continue;
        std::error_code sec;
        if (!std::filesystem::is_regular_file(it->symlink_status(sec)) || sec) continue;
        std::string stem = path.stem().string();
        if (hv_domain_name_problem(stem.data(), stem.size()) != nullptr) continue;
        out.push_back(std::move(stem));
    }
    std::sort(out.begin(), out.end());
    return out;
}

size_t ManagedStore::clean_leftovers() {
    size_t removed = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir_, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        const std::string file = it->path().filename().string();
        // Exactly "<name>.hvdom.tmp.XXXXXX" (mkostemp's six characters): a
        // valid name may itself contain ".hvdom.tmp.", its record must stay.
        const size_t at = file.rfind(kTmpInfix);
        if (at == std::string::npos || at == 0 || file.size() - at - kTmpInfix.size() != 6) continue;
        if (hv_domain_name_problem(file.data(), at) != nullptr) continue;
        std::error_code sec;
        if (std::filesystem::is_directory(it->symlink_status(sec)) || sec) continue;
        if (::unlink(it->path().c_str()) == 0) ++removed;
    }
    if (removed > 0) fsync_dir(dir_);
    return removed;
}

} // namespace hvd
