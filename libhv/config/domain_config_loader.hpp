// Reading an xl.cfg(5) domain config into a DomainConfig: which keys hv
// honours, how they are checked, and which it only records as unsupported.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/domain_config.hpp"
#include "hv/result.hpp"

namespace hv::config {

// `text` is a whole config; `source_name` names it in messages and in
// DomainConfig::source. `overrides` are xl create's KEY=VALUE arguments, each
// read as one more line after the text (an unquoted value is a string), and
// named "override N" (from 1) in messages.
//
// Errors: Errc::parse_error for syntax ("FILE:LINE:COL: key: message"),
// Errc::invalid_argument for a value hv refuses ("FILE:LINE:COL: key: message")
// or a missing name/kernel ("FILE: key: message").
hv::Result<DomainConfig> parse_domain_config(std::string_view text, std::string_view source_name,
                                             const std::vector<std::string>& overrides = {});

// Reads `path` and parses it as above. A relative kernel= or ramdisk= written
// in the file is resolved against the file's folder (one given in an override
// is left relative to the caller's working directory). I/O errors name the
// path and the system's reason: Errc::not_found when it does not exist,
// Errc::io_error otherwise; files over 1 MiB are refused.
hv::Result<DomainConfig> load_domain_config(const std::string& path, const std::vector<std::string>& overrides = {});

} // namespace hv::config
