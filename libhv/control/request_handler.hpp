// handle_request: one control-ABI request (everything but HELLO and
// SUBSCRIBE, which belong to the connection) checked field by field and
// carried out on a Backend. Pure: no sockets, so it is tested (and
// fuzzed) on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hv/abi/control.h"
#include "hv/sdk/backend.hpp"

namespace hv::control {

struct Reply {
    int32_t status = 0;  // HV_OK or HV_E*
    std::string payload; // the op's reply, or the error message
};

Reply handle_request(sdk::Backend& backend, uint32_t op, std::string_view payload);

// An error reply from an hv::Error.
Reply error_reply(const Error& e);

// The op's name for messages ("create", "pause", ...).
const char* op_name(uint32_t op);

// CREATE's, CREATE_SPEC's and DEFINE's payload into `c`; returns what is
// wrong, or "".
std::string decode_create(std::string_view payload, sdk::CreateRequest& c, uint32_t op);

// DEVICE_ATTACH's and DEVICE_DETACH's payloads, every field checked (hvd
// reads them too: it acts on HV_CTL_DEVICE_PERSIST itself). The decode
// functions return what is wrong, or "".
struct DeviceAttach {
    uint32_t domid = 0;
    sdk::DeviceKind kind = sdk::DeviceKind::disk;
    uint32_t flags = 0; // HV_CTL_DEVICE_PERSIST
    std::string spec;
};
struct DeviceDetach {
    uint32_t domid = 0;
    sdk::DeviceKind kind = sdk::DeviceKind::disk;
    uint32_t flags = 0;      // HV_CTL_DEVICE_FORCE, HV_CTL_DEVICE_PERSIST
    uint32_t timeout_ms = 0; // as sent: 0 is the default (device_timeout_ms)
    std::string device;
};
std::string decode_device_attach(std::string_view payload, DeviceAttach& out);
std::string decode_device_detach(std::string_view payload, DeviceDetach& out);
// The payloads again, from decoded requests (hvd forwards them without
// HV_CTL_DEVICE_PERSIST, which only it acts on).
std::string encode_device_attach(const DeviceAttach& a);
std::string encode_device_detach(const DeviceDetach& d);

// How long a detach waits for the guest: `timeout_ms`, or the default for 0.
inline uint32_t device_timeout_ms(uint32_t timeout_ms) {
    return timeout_ms == 0 ? HV_CTL_DEVICE_TIMEOUT_DEFAULT_MS : timeout_ms;
}

} // namespace hv::control
