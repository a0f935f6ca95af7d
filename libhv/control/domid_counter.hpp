// DomidCounter: hands out domids from a counter file shared by every
// monitor process under one state directory (hvd runs one process per
// domain), so ids stay unique across them. flock() serializes the
// processes; the file survives restarts, so ids are not reused soon.
#pragma once

#include <cstdint>
#include <string>

#include "hv/result.hpp"

namespace hv::control {

class DomidCounter {
public:
    explicit DomidCounter(std::string path) : path_(std::move(path)) {}
    Result<uint32_t> next();

private:
    std::string path_;
};

} // namespace hv::control
