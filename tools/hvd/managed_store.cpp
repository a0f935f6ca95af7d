#include "managed_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace hvd {

using hv::Errc;
using hv::make_error;

namespace {
// The file: "source <path>\n", "override <text>\n"..., "config\n", then the
// config text verbatim to the end.
std::string serialize(const hv::sdk::CreateRequest& req) {
    std::string out = "source " + req.source + "\n";
    for (const auto& o : req.overrides) out += "override " + o + "\n";
    return out + "config\n" + req.config_text;
}
} // namespace

hv::Result<void> write_file_atomic(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(Errc::io_error, fmt::format("{}: {}", tmp, std::strerror(errno)));
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return make_error(Errc::io_error, fmt::format("{}: write: {}", tmp, std::strerror(err)));
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(tmp.c_str());
        return make_error(Errc::io_error, fmt::format("{}: fsync: {}", tmp, std::strerror(errno)));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return make_error(Errc::io_error, fmt::format("rename {} -> {}: {}", tmp, path, std::strerror(err)));
    }
    const std::string dir = std::filesystem::path(path).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd); // the rename itself is durable
        ::close(dfd);
    }
    return {};
}

hv::Result<void> ManagedStore::put(const std::string& name, const hv::sdk::CreateRequest& req) {
    return write_file_atomic(path_of(name), serialize(req));
}

hv::Result<hv::sdk::CreateRequest> ManagedStore::get(const std::string& name) const {
    std::ifstream in(path_of(name));
    if (!in) return make_error(Errc::not_found, fmt::format("no managed domain named '{}'", name));
    hv::sdk::CreateRequest req;
    std::string line;
    while (std::getline(in, line)) {
        if (line == "config") {
            std::stringstream rest;
            rest << in.rdbuf();
            req.config_text = rest.str();
            return req;
        }
        if (line.rfind("source ", 0) == 0) req.source = line.substr(7);
        else if (line.rfind("override ", 0) == 0) req.overrides.push_back(line.substr(9));
        else return make_error(Errc::parse_error, fmt::format("{}: unexpected line '{}'", path_of(name), line));
    }
    return make_error(Errc::parse_error, fmt::format("{}: no config section", path_of(name)));
}

hv::Result<void> ManagedStore::remove(const std::string& name) {
    std::error_code ec;
    if (!std::filesystem::remove(path_of(name), ec))
        return make_error(ec ? Errc::io_error : Errc::not_found,
                          ec ? fmt::format("{}: {}", path_of(name), ec.message()) : fmt::format("no managed domain named '{}'", name));
    return {};
}

std::vector<std::string> ManagedStore::names() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec))
        if (e.path().extension() == ".hvdom") out.push_back(e.path().stem().string());
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace hvd
