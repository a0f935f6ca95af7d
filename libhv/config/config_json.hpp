// DomainConfig as JSON, for `hvctl create --dry-run`-style output and tests.
// Hand-written (no JSON library in the hosted core): the shape is small and fixed.
#pragma once

#include <string>
#include <string_view>

#include "config/domain_config.hpp"

namespace hv::config {

// Pretty JSON (2-space indent, ending in a newline) of the resolved config:
// maxmem and maxvcpus are shown as in effect (memory / vcpus when unset),
// actions in xl spelling, uuid as a string or null, disks and vifs as
// arrays of objects (unset strings "", unset flags and numbers null).
std::string domain_config_to_json(const DomainConfig& config);

// `text` as a quoted JSON string: '"', '\\' and control characters escaped
// (\n, \t, ... or \u00XX), bytes that are not valid UTF-8 replaced by \ufffd
// so the output is always valid JSON.
std::string json_quote(std::string_view text);

} // namespace hv::config
