// Specs and config values written back as xl.cfg text: what a typed disk
// or vif spec reads back as, and a string literal the config reader takes.
// hvd uses them to restate a managed domain's disk= or vif= list after a
// hotplug with --persist (tools/hvd/managed_devices.hpp); hvctl to send a
// disk spec whose relative target it made absolute.
//
// A written spec parses (parse_disk_spec / parse_vif_spec) to the spec it
// was written from, in key=value form: a disk's target= comes last, as
// xl-disk-configuration(5) wants, so a target with ',' or ':' survives.
// What is not kept: a disk's legacy prefix as written ("tap:aio:"); what
// it meant (a format, a script) is kept in its own key.
#pragma once

#include <string>
#include <string_view>

#include "config/disk_spec.hpp"
#include "config/vif_spec.hpp"

namespace hv::config {

std::string disk_spec_text(const DiskSpec& d);
std::string vif_spec_text(const VifSpec& v);

// `s` as an xl.cfg single-quoted string: ' and \ escaped, control bytes
// as \xHH, so the literal stays on one line. `s` holds no NUL (no config
// string can).
std::string cfg_quote(std::string_view s);

} // namespace hv::config
