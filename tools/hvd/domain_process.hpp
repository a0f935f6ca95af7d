// Starting and watching hv-domain processes. A process is held by a
// pidfd, so a signal never reaches a recycled pid and its death is an
// event on hvd's loop (the pidfd becomes readable), for children and
// re-attached processes alike.
#pragma once

#include <sys/types.h>

#include <string>

#include "hv/result.hpp"

namespace hvd {

struct SpawnOptions {
    std::string binary;    // hv-domain
    std::string state_dir;
    std::string log_level;
    std::string socket;    // where it will listen
    std::string log_file;  // its stdout and stderr
};

struct Spawned {
    pid_t pid = -1;
    int pidfd = -1;
    int ready_fd = -1; // readable: "R" once it listens, EOF if it died first
    std::string warning; // its log file could not be used (output goes to /dev/null): why
};

// posix_spawn (vfork-like): holds the caller only until the child has
// exec'd; every file the child gets is opened here without blocking.
hv::Result<Spawned> spawn_domain_process(const SpawnOptions& o);

// A pidfd for a process hvd did not start (re-attach); -1 when gone.
int open_pidfd(pid_t pid);
void signal_pidfd(int pidfd, int sig);
// Reaps the process if it is hvd's child and has exited; its status as
// text ("exit status 1", "killed by signal 9"), or "" when unknown.
std::string reap_pidfd(int pidfd);

// The last line of a log file (for "exited at start" errors).
std::string last_log_line(const std::string& path);

} // namespace hvd
