// handle_request: one control-ABI request (everything but HELLO and
// SUBSCRIBE, which belong to the connection) checked field by field and
// carried out on a Backend. Pure: no sockets, so it is tested (and
// fuzzed) on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

} // namespace hv::control
