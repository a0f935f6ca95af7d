// host_figures(): what PHYSINFO reports (hvctl info) is this host as the
// kernel describes it, and hv's own version.
#include <catch2/catch.hpp>

#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "control/monitor_backend.hpp"
#include "hv/abi/control.h"

TEST_CASE("host_figures: uname, CPUs, nodes and versions of this host", "[control][physinfo]") {
    const hv::sdk::HostInfo h = hv::control::host_figures(3, "credit");
    struct utsname u {};
    REQUIRE(::uname(&u) == 0);
    CHECK(h.host == u.nodename);
    CHECK(h.release == u.release);
    CHECK(h.version == u.version);
    CHECK(h.machine == u.machine);
    CHECK(h.nr_domains == 3);
    CHECK(h.nr_cpus == static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
    CHECK(h.total_mib > 0);
    CHECK(h.free_mib <= h.total_mib);
    CHECK(h.abi_version == HV_ABI_VERSION);
    CHECK(h.ctl_version == HV_CTL_VERSION);
    CHECK(h.scheduler == "credit"); // what the caller says runs
    // meson's project version, "MAJOR.MINOR..." (not the 0.0 of a failed parse).
    const std::string v = h.hv_version();
    CHECK(v.rfind(std::to_string(h.hv_major) + "." + std::to_string(h.hv_minor), 0) == 0);
    CHECK(v != "0.0");

    uint32_t node_dirs = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/sys/devices/system/node", ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind("node", 0) == 0 && name.size() > 4 && name.find_first_not_of("0123456789", 4) == std::string::npos)
            ++node_dirs;
    }
    CHECK(h.nr_nodes == (node_dirs == 0 ? 1 : node_dirs));
    CHECK(h.nodes.size() == h.nr_nodes);
    // Every online CPU is listed, on a node hv reports.
    CHECK(h.cpus.size() == h.nr_cpus);
    for (const auto& c : h.cpus) {
        INFO("cpu " << c.cpu);
        bool known_node = false;
        for (const auto& n : h.nodes) known_node = known_node || n.node == c.node;
        CHECK(known_node);
    }
    if (h.cores_per_socket != 0) CHECK(h.threads_per_core != 0);
}
