// DomainConfig as JSON, for `hvctl create --dry-run`-style output and tests.
// Hand-written (no JSON library in the hosted core): the shape is small and fixed.
#pragma once

#include <string>
#include <string_view>

#include "config/domain_config.hpp"

namespace hv::config {

// Pretty JSON (2-space indent, ending in a newline) of the resolved config.
// Every field is always there, unset ones as null (or "" for strings), so
// the document has one shape (xl's `create -n` leaves defaults out; a fixed
// shape is easier to read with jq and to compare):
//  - maxmem and maxvcpus as in effect (memory / vcpus when unset);
//  - the scheduling keys by their xl.cfg names, after maxvcpus: "cpus" and
//    "cpus_soft" null (no affinity), a string (one CPU list for every vCPU,
//    "0-3,5") or a list of strings (one per vCPU, as xl.cfg's list form),
//    "cpu_weight" and "cap" a number or null (the scheduler's default);
//  - "io_weight" a number (100 when unset);
//  - actions in xl spelling, uuid as a string or null, disks and vifs as
//    arrays of objects (unset strings "", unset flags and numbers null).
std::string domain_config_to_json(const DomainConfig& config);

// `text` as a quoted JSON string: '"', '\\' and control characters escaped
// (\n, \t, ... or \u00XX), bytes that are not valid UTF-8 replaced by \ufffd
// so the output is always valid JSON.
std::string json_quote(std::string_view text);

} // namespace hv::config
