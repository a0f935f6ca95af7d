// VcpuExit: why a vCPU stopped running guest code, in platform-neutral
// terms (Cloud Hypervisor's VmExit in spirit). The run loop dispatches on it.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace hv::platform {

// Port I/O. `data` points at count * size bytes in the platform's run
// area: what the guest wrote, or where the handler puts what it reads.
// Valid until the next run().
struct IoExit {
    uint16_t port;
    uint8_t size; // 1, 2 or 4
    bool write;
    uint32_t count; // > 1 for rep ins/outs
    uint8_t* data;
};

// MMIO: `data` points at `size` bytes, as for IoExit.
struct MmioExit {
    uint64_t addr;
    uint8_t size;
    bool write;
    uint8_t* data;
};

struct HltExit {};
struct ShutdownExit {};     // triple fault: the guest is dead
struct InterruptedExit {};  // kicked out by another thread (pause, stop)
struct FailedExit {         // the platform could not run the vCPU
    std::string what;
};

using VcpuExit = std::variant<IoExit, MmioExit, HltExit, ShutdownExit, InterruptedExit, FailedExit>;

} // namespace hv::platform
