// DomainServices: what the hypercall dispatcher needs from the platform
// that runs the domain (hosted monitor or ring-0 image). The dispatcher
// validates; the services act. No virtual destructor on purpose: the core
// never deletes through it, and a deleting destructor would pull operator
// delete into the freestanding build.
#pragma once

#include <stdint.h>

#include "hv/abi/vcpu_op.h"

namespace hv::core {

class DomainServices {
public:
    virtual uint32_t domid() const = 0;
    virtual void uuid(uint8_t out[16]) const = 0;
    virtual uint32_t max_vcpus() const = 0;

    // The bytes are in guest RAM, already bounds-checked.
    virtual void console_write(const uint8_t* data, uint32_t len) = 0;
    // Takes up to `len` bytes of pending console input; never blocks.
    virtual uint32_t console_read(uint8_t* dst, uint32_t len) = 0;

    virtual bool vcpu_is_up(uint32_t vcpu) const = 0;
    // Fields are validated; returns HV_OK, HV_EBUSY (already up) or another
    // HV_E* the platform finds.
    virtual int64_t vcpu_up(uint32_t caller, const hv_vcpu_up_t& req) = 0;
    // How many vCPUs the control plane wants online (vcpu_op TARGET).
    virtual uint32_t vcpu_target() const = 0;

    // A call the dispatcher refused: logged by the platform (rate-limited
    // there if it likes); `why` is a static string.
    virtual void bad_call(uint32_t vcpu, uint32_t group, uint32_t op, int64_t result, const char* why) = 0;

protected:
    DomainServices() = default;
    DomainServices(const DomainServices&) = default;
    DomainServices& operator=(const DomainServices&) = default;
    ~DomainServices() = default;
};

} // namespace hv::core
