// HvdService: device hotplug (xl block-attach/-detach, network-attach/
// -detach). hvd reads these requests itself rather than only routing
// them: a disk's files are checked with the caller's credentials (a
// member must not make a root process open what it could not), and
// HV_CTL_DEVICE_PERSIST is hvd's to carry out, on the managed store.
#include "hvd_service.hpp"

#include <fmt/format.h>

#include "config/disk_spec.hpp"
#include "config/vif_spec.hpp"
#include "hv/sdk/wire_types.hpp"
#include "managed_devices.hpp"
#include "member_access.hpp"

namespace hvd {

using hv::Errc;
using hv::make_error;
using hv::control::error_reply;
using hv::control::Peer;
using hv::sdk::DeviceKind;
namespace wire = hv::sdk::wire;

namespace {

// Device requests that wait for their turn behind a running one, per
// domain process; more are refused as busy.
constexpr size_t kMaxQueuedDeviceOps = 16;

Reply ok() { return Reply{HV_OK, {}}; }
Reply err(Errc code, std::string why) { return Reply{wire::status_of(code), std::move(why)}; }

// The files an attached disk names, checked as create checks a config's:
// the target (and a qcow2 image's backing files) must be ones the caller
// could open itself. Its target must be absolute: the domain's process
// does not share the caller's working directory.
hv::Result<void> check_disk_files(const Peer& peer, const std::string& spec) {
    auto disk = hv::config::parse_disk_spec(spec);
    if (!disk) return make_error(disk.error().code, "device attach: disk " + disk.error().message);
    if (disk->target.empty()) return {}; // a cdrom without media: the monitor says what it thinks of it
    if (disk->target[0] != '/')
        return make_error(Errc::invalid_argument,
                          fmt::format("device attach: disk target '{}' is not an absolute path (the domain's process "
                                      "does not share the caller's working directory)", disk->target));
    if (auto r = check_member_can_open(peer, {{"disk", disk->target, !disk->read_only}}); !r) return r;
    return check_member_backing_files(peer, {*disk});
}

// The stored definition of the domain `name`, which PERSIST changes.
hv::Result<hv::sdk::CreateRequest> definition_of(const ManagedStore& store, uint32_t domid, const std::string& name) {
    auto def = store.get(name);
    if (!def && def.error().code == Errc::not_found)
        return make_error(Errc::invalid_argument,
                          fmt::format("domain {} ({}) is not managed (hvctl new): nothing to persist", domid, name));
    return def;
}

} // namespace

void HvdService::do_attach(const Peer& peer, std::string payload, ReplyFn done) {
    hv::control::DeviceAttach a;
    if (auto why = hv::control::decode_device_attach(payload, a); !why.empty()) return done(err(Errc::invalid_argument, why));
    auto it = doms_.find(a.domid);
    if (it == doms_.end()) return done(err(Errc::not_found, fmt::format("no domain with id {}", a.domid)));
    const bool persist = (a.flags & HV_CTL_DEVICE_PERSIST) != 0;
    a.flags &= ~HV_CTL_DEVICE_PERSIST; // the definition is hvd's; the domain's process never sees the flag
    const std::string name = it->second.last.name;
    const ManagedStore* store = &managed_;
    // File work off the loop, and everything that can refuse the request
    // refuses it before the device exists.
    offload<hv::Result<void>>(
        [peer, a, persist, name, store]() -> hv::Result<void> {
            if (a.kind == DeviceKind::disk)
                if (auto r = check_disk_files(peer, a.spec); !r) return r;
            if (!persist) return {};
            auto def = definition_of(*store, a.domid, name);
            if (!def) return def.error();
            if (auto changed = definition_with_device(*def, a.kind, a.spec, 0); !changed)
                return make_error(changed.error().code,
                                  fmt::format("device attach: the stored definition of '{}' cannot take it: {}", name,
                                              changed.error().message));
            return {};
        },
        [this, a, persist, name, done](hv::Result<void> checked) {
            if (!checked) return done(error_reply(checked.error()));
            device_call(a.domid, HV_DOMCTL_DEVICE_ATTACH, hv::control::encode_device_attach(a), options_.create_timeout,
                        [this, a, persist, name, done](Reply r) {
                if (r.status != HV_OK || !persist) return done(std::move(r));
                auto id = wire::unpack<hv_ctl_device_id_t>(r.payload);
                if (!id || r.payload.size() != sizeof *id)
                    return done(err(Errc::protocol_error, fmt::format("domain {} ({}): attach reply of a wrong size; its "
                                                                      "stored definition was not changed", a.domid, name)));
                const uint32_t devid = id->devid;
                persist_device(name,
                               [a, devid](const hv::sdk::CreateRequest& def) {
                                   return definition_with_device(def, a.kind, a.spec, devid);
                               },
                               fmt::format("domain {} ({}): {} {} was attached, but its stored definition was not changed",
                                           a.domid, name, hv::sdk::device_kind_name(a.kind), devid),
                               [live = std::move(r), done](Reply stored) {
                                   // OK: the attach's own reply, which carries the devid.
                                   done(stored.status == HV_OK ? live : std::move(stored));
                               });
            });
        });
}

void HvdService::do_detach(std::string payload, ReplyFn done) {
    hv::control::DeviceDetach d;
    if (auto why = hv::control::decode_device_detach(payload, d); !why.empty()) return done(err(Errc::invalid_argument, why));
    auto it = doms_.find(d.domid);
    if (it == doms_.end()) return done(err(Errc::not_found, fmt::format("no domain with id {}", d.domid)));
    const bool persist = (d.flags & HV_CTL_DEVICE_PERSIST) != 0;
    d.flags &= ~HV_CTL_DEVICE_PERSIST;
    // The guest has the request's timeout to let the device go; the
    // process then needs a moment to answer.
    const auto timeout = std::chrono::milliseconds(hv::control::device_timeout_ms(d.timeout_ms)) + options_.call_timeout;
    if (!persist) return device_call(d.domid, HV_DOMCTL_DEVICE_DETACH, hv::control::encode_device_detach(d), timeout, std::move(done));
    const std::string name = it->second.last.name;
    const ManagedStore* store = &managed_;
    offload<hv::Result<void>>(
        [store, d, name]() -> hv::Result<void> {
            auto def = definition_of(*store, d.domid, name);
            return def ? hv::Result<void>{} : hv::Result<void>{def.error()};
        },
        [this, d, name, timeout, done](hv::Result<void> managed) {
            if (!managed) return done(error_reply(managed.error()));
            vif_devid_of(d.domid, d.kind == DeviceKind::vif ? d.device : std::string(), [this, d, name, timeout, done](std::string key) {
                if (key.empty()) key = d.device;
                device_call(d.domid, HV_DOMCTL_DEVICE_DETACH, hv::control::encode_device_detach(d), timeout,
                            [this, d, name, key, done](Reply r) {
                    if (r.status != HV_OK) return done(std::move(r));
                    persist_device(name,
                                   [d, key](const hv::sdk::CreateRequest& def) { return definition_without_device(def, d.kind, key); },
                                   fmt::format("domain {} ({}): {} {} was detached, but its stored definition was not changed",
                                               d.domid, name, hv::sdk::device_kind_name(d.kind), d.device),
                                   std::move(done));
                });
            });
        });
}

// A vif named by its MAC, as its devid: the definition may not hold the
// MAC (one generated from the domain's UUID), but it numbers every vif.
// Asked of the running domain while the vif is still there; `then` gets
// "" when `device` is not a MAC or no vif has it.
void HvdService::vif_devid_of(uint32_t domid, const std::string& device, std::function<void(std::string)> then) {
    hv::config::MacAddress mac{};
    if (!hv::config::parse_mac_address(device, mac)) return then({});
    forward(domid, HV_DOMCTL_NETWORK_LIST, wire::pack(hv_ctl_domid_t{domid, 0}), [mac, then](Reply r) {
        if (r.status != HV_OK) return then({});
        for (size_t at = 0; at + sizeof(hv_ctl_vif_info_t) <= r.payload.size(); at += sizeof(hv_ctl_vif_info_t)) {
            auto v = wire::from_wire(*wire::unpack<hv_ctl_vif_info_t>(std::string_view(r.payload).substr(at)));
            if (v && v->mac == mac) return then(std::to_string(v->devid));
        }
        then({});
    });
}

// A device request on a connection of its own to the domain's process. A
// detach may wait minutes for its guest, and a process answers one
// request per connection at a time: on the shared link it would hold up
// every other request to that process (other clients', hvd's own list)
// and get the process marked unresponsive. They run one at a time per
// process (its request pool is small, and a guest gets one hotplug at a
// time, as under libxl's per-domain lock); the others queue.
void HvdService::device_call(uint32_t domid, uint32_t op, std::string payload, std::chrono::milliseconds timeout, ReplyFn done) {
    auto it = doms_.find(domid);
    if (it == doms_.end()) return done(err(Errc::not_found, fmt::format("no domain with id {}", domid)));
    ProcPtr p = it->second.proc;
    if (!p)
        return done(err(Errc::platform_error, fmt::format("domain {} ({}) crashed with its monitor process; only info and "
                                                          "destroy apply to it", domid, it->second.last.name)));
    auto run = [this, p, op, payload = std::move(payload), timeout, done]() mutable {
        p->device_link = DomainLink::make(io_, p->socket, {}); // no events; its one reply says it all
        auto link = p->device_link;
        auto finish = [this, p, link, done](Reply r) {
            link->detach();
            if (p->device_link == link) p->device_link.reset();
            done(std::move(r));
            device_next(p);
        };
        link->open(hv_ctl_subscribe_t{0, 0}, options_.call_timeout,
                   [link, op, payload = std::move(payload), timeout, finish](Reply r) mutable {
            if (r.status != HV_OK) return finish(std::move(r));
            link->call(op, std::move(payload), timeout, finish);
        });
    };
    if (!p->device_link) return run();
    if (p->device_queue.size() >= kMaxQueuedDeviceOps)
        return done(err(Errc::busy, fmt::format("domain {}: {} device attaches and detaches are waiting already; try again later",
                                                domid, p->device_queue.size())));
    p->device_queue.push_back(std::move(run));
}

void HvdService::device_next(const ProcPtr& p) {
    if (!*alive_ || p->device_link || p->device_queue.empty()) return;
    auto next = std::move(p->device_queue.front());
    p->device_queue.pop_front();
    next();
}

// After the live change succeeded: the stored definition read again (it
// may have changed since the request was checked), changed, and written
// atomically. A failure says the live change happened (`done_live`).
void HvdService::persist_device(const std::string& name,
                                std::function<hv::Result<hv::sdk::CreateRequest>(const hv::sdk::CreateRequest&)> change,
                                std::string done_live, ReplyFn done) {
    ManagedStore* store = &managed_;
    offload<Reply>(
        [this, store, name, change = std::move(change), done_live = std::move(done_live)] {
            auto def = store->get(name);
            auto changed = def ? change(*def) : hv::Result<hv::sdk::CreateRequest>(def.error());
            if (changed) {
                if (auto r = store->put(name, *changed, true); !r) changed = r.error();
            }
            if (!changed) return err(changed.error().code, done_live + ": " + changed.error().message);
            log_->info("managed domain '{}': stored definition changed by a device hotplug", name);
            return ok();
        },
        std::move(done));
}

} // namespace hvd
