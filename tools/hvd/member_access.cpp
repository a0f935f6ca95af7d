#include "member_access.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "control/control_server.hpp"
#include "devices/block/open_disk.hpp"

namespace hvd {

hv::Result<void> check_member_can_open(const hv::control::Peer& peer, const std::vector<MemberFile>& files) {
    // Root, and hvd's own user (a non-root hvd cannot change credentials,
    // and its domain processes read as that user anyway), pass.
    if (peer.root() || peer.uid == ::geteuid() || files.empty()) return {};
    // Everything the child needs is prepared before fork (no allocation
    // after it in a threaded process).
    const std::vector<gid_t> groups = hv::control::process_groups(peer.pid);
    std::vector<const char*> paths;
    std::vector<int> modes;
    for (const auto& f : files) {
        paths.push_back(f.path.c_str());
        modes.push_back(f.write ? O_RDWR : O_RDONLY);
    }
    const pid_t pid = ::fork();
    if (pid < 0) return hv::make_error(hv::Errc::io_error, fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
        if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(peer.gid) != 0 || ::setuid(peer.uid) != 0) _exit(254);
        for (size_t i = 0; i < paths.size() && i < 250; ++i) {
            const int fd = ::open(paths[i], modes[i] | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
            if (fd < 0) _exit(static_cast<int>(i) + 1);
            ::close(fd);
        }
        _exit(0);
    }
    // A file on a hung filesystem must not hold hvd's pool: 5 s at most.
    int status = 0;
    bool done = false;
    for (int waited = 0; waited < 500 && !done; ++waited) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        done = r == pid || (r < 0 && errno != EINTR);
        if (!done) ::usleep(10000);
    }
    if (!done) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return hv::make_error(hv::Errc::timed_out, "checking file access with the caller's credentials took over 5 s");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 254)
        return hv::make_error(hv::Errc::io_error, "could not check file access with the caller's credentials");
    const int code = WEXITSTATUS(status);
    if (code == 0) return {};
    const MemberFile& f = files[static_cast<size_t>(code - 1)];
    return hv::make_error(hv::Errc::permission_denied,
                          fmt::format("{} '{}': uid {} cannot open it (it does not exist, or is not {} by you)", f.key, f.path,
                                      peer.uid, f.write ? "writable" : "readable"));
}

hv::Result<void> check_member_backing_files(const hv::control::Peer& peer, const std::vector<hv::config::DiskSpec>& disks) {
    if (peer.root() || peer.uid == ::geteuid()) return {};
    std::vector<MemberFile> files;
    for (size_t i = 0; i < disks.size(); ++i) {
        const hv::config::DiskSpec& d = disks[i];
        if (d.format != hv::config::DiskFormat::qcow2 || d.target.empty()) continue;
        auto chain = hv::dev::backing_chain(d.target, d.format);
        // Read as hvd: the reason could quote a file the member may not
        // read (a root-only backing file's own header), so it is not told.
        if (!chain)
            return hv::make_error(chain.error().code,
                                  fmt::format("disk {} ({}) '{}': its backing chain could not be read (`qemu-img info "
                                              "--backing-chain` shows it)",
                                              i + 1, d.vdev, d.target));
        for (auto& path : *chain) files.push_back({fmt::format("backing file of disk {} ({})", i + 1, d.vdev), std::move(path), false});
    }
    return check_member_can_open(peer, files);
}

} // namespace hvd
