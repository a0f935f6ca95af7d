// A managed domain's stored definition (ManagedStore) with a device added
// or removed: what hotplug with --persist does to it, so the next `hvctl
// start` has the device or does not.
//
// The store keeps what `hvctl new` sent: xl.cfg text, its source and its
// KEY=VALUE overrides. The change goes through the typed config: the
// definition is read as a create reads it (the file, then the overrides),
// its typed disk or vif list is changed, and the whole list is restated
// as one override at the end, each spec written back from its typed form
// (config/spec_writer.hpp). The file's text is left as `new` stored it;
// earlier overrides that set only that key are dropped (the restated list
// says all they said), so repeated hotplugs do not pile up overrides.
//
// Identity is kept across the restatement: a vif's devid is written out
// (devid=) where its position gave it one, so removing vif 0 does not
// renumber vif 1 (whose TAP name and generated MAC follow its devid), and
// a disk's relative target is made absolute against the config file's
// folder, as a create resolves it there.
#pragma once

#include <cstdint>
#include <string_view>

#include "hv/result.hpp"
#include "hv/sdk/types.hpp"

namespace hvd {

// `def` with the device `spec` (an xl disk= or vif= spec) in its list. A
// vif is written with devid=`devid`, the one the running domain gave it.
// An entry with the same vdev (disk) or devid (vif) is replaced: the
// attach says what that device now is. Errors: a spec that does not parse,
// a definition made from a typed DomainSpec (it has no device lists), a
// definition that does not read.
hv::Result<hv::sdk::CreateRequest> definition_with_device(const hv::sdk::CreateRequest& def, hv::sdk::DeviceKind kind,
                                                          std::string_view spec, uint32_t devid);

// `def` without the device `device` names: a disk by its vdev or devid in
// decimal (Xen's number, as block-list prints it), a vif by its devid in
// decimal or by its mac= (a generated MAC is not in the definition: name
// the vif by devid). Errc::not_found when the definition has no such device.
hv::Result<hv::sdk::CreateRequest> definition_without_device(const hv::sdk::CreateRequest& def, hv::sdk::DeviceKind kind,
                                                             std::string_view device);

} // namespace hvd
