// Names the calling thread as ps, top -H and /proc/PID/task/TID/comm show
// it: Linux keeps 15 bytes. hv's threads say whose they are ("d3.vcpu1",
// "d3.io"), so a profile or a CPU sample points at a domain and a role.
#pragma once

#include <pthread.h>

#include <string>

namespace hv {

inline void name_this_thread(const std::string& name) { (void)::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str()); }

} // namespace hv
