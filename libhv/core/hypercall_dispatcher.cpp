#include "core/hypercall_dispatcher.hpp"

#include "core/text.hpp"

namespace hv::core {

namespace {

using Action = CallOutcome::Action;

CallOutcome done(int64_t result) { return CallOutcome{result, Action::none, 0, ShutdownReason::poweroff}; }

// Copies the op's request struct out of the slot. False when any byte of
// the argument area past the struct is nonzero: padding must be zero so a
// future minor version can give those bytes a meaning.
template <class Req>
bool load(const hv_call_t& call, Req& req) {
    static_assert(sizeof(Req) <= HV_CALL_ARGS_SIZE, "request does not fit the slot");
    copy_bytes(&req, call.args, sizeof(Req));
    const auto* bytes = reinterpret_cast<const uint8_t*>(call.args);
    for (size_t i = sizeof(Req); i < HV_CALL_ARGS_SIZE; ++i)
        if (bytes[i] != 0) return false;
    return true;
}

template <class Req>
void store(hv_call_t& call, const Req& req) {
    copy_bytes(call.args, &req, sizeof(Req));
}

// Ops without inputs: the whole argument area must be zero.
bool args_zero(const hv_call_t& call) {
    for (uint64_t word : call.args)
        if (word != 0) return false;
    return true;
}

bool canonical(uint64_t va) {
    const uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

} // namespace

CallOutcome HypercallDispatcher::refuse(uint32_t vcpu, const hv_call_t& call, int64_t code, const char* why) {
    svc_.bad_call(vcpu, call.group, call.op, code, why);
    return done(code);
}

CallOutcome HypercallDispatcher::dispatch(uint32_t vcpu, uint64_t slot_gpa) {
    hv_call_t call;
    if ((slot_gpa & 7) != 0 || !ram_.read(slot_gpa, &call, sizeof call)) {
        svc_.bad_call(vcpu, 0xffff, 0xffff, HV_EFAULT, "call slot not 8-byte aligned guest RAM");
        return done(HV_EFAULT);
    }
    CallOutcome out = run_slot(vcpu, call, false);
    if (out.action != Action::block) {
        call.result = out.result;
        ram_.write(slot_gpa, &call, sizeof call);
    }
    return out;
}

int64_t HypercallDispatcher::finish_block(uint64_t slot_gpa, uint64_t events, uint32_t shutdown_request) {
    hv_call_t call;
    if (!ram_.read(slot_gpa, &call, sizeof call)) return HV_EFAULT; // checked at dispatch; RAM does not shrink
    hv_sched_block_t req;
    copy_bytes(&req, call.args, sizeof req);
    req.events = events;
    req.shutdown_request = (events & HV_EVENT_SHUTDOWN_REQUEST) != 0 ? shutdown_request : 0;
    store(call, req);
    call.result = events != 0 ? HV_OK : HV_ETIMEDOUT;
    ram_.write(slot_gpa, &call, sizeof call);
    return call.result;
}

CallOutcome HypercallDispatcher::run_slot(uint32_t vcpu, hv_call_t& call, bool in_multicall) {
    if (call._pad0 != 0) return refuse(vcpu, call, HV_EINVAL, "nonzero padding in call slot");
    switch (call.group) {
    case HV_GROUP_VERSION: return version_op(vcpu, call);
    case HV_GROUP_CONSOLE_IO: return console_op(vcpu, call);
    case HV_GROUP_SCHED_OP: return sched_op(vcpu, call, in_multicall);
    case HV_GROUP_VCPU_OP: return vcpu_op(vcpu, call, in_multicall);
    case HV_GROUP_MULTICALL: return multicall(vcpu, call, in_multicall);
    default: return refuse(vcpu, call, HV_ENOSYS, "unknown op group");
    }
}

CallOutcome HypercallDispatcher::version_op(uint32_t vcpu, hv_call_t& call) {
    switch (call.op) {
    case HV_VERSION_OP_GET: {
        if (!args_zero(call)) return refuse(vcpu, call, HV_EINVAL, "nonzero output fields on input");
        store(call, hv_version_get_t{HV_ABI_VERSION, HV_GROUP_COUNT});
        return done(HV_OK);
    }
    case HV_VERSION_OP_GROUP: {
        hv_version_group_t req;
        if (!load(call, req) || req.version != 0) return refuse(vcpu, call, HV_EINVAL, "nonzero padding or output field");
        static constexpr uint32_t versions[HV_GROUP_COUNT] = {
            HV_VERSION_GROUP_VERSION, HV_CONSOLE_IO_GROUP_VERSION, HV_SCHED_OP_GROUP_VERSION,
            HV_VCPU_OP_GROUP_VERSION, HV_MULTICALL_GROUP_VERSION,
        };
        if (req.group >= HV_GROUP_COUNT) return refuse(vcpu, call, HV_ENOENT, "version of an unknown group");
        req.version = versions[req.group];
        store(call, req);
        return done(HV_OK);
    }
    case HV_VERSION_OP_FEATURES: {
        if (!args_zero(call)) return refuse(vcpu, call, HV_EINVAL, "nonzero output fields on input");
        store(call, hv_version_features_t{HV_FEATURE_CONSOLE_IO | HV_FEATURE_MULTICALL | HV_FEATURE_VCPU_UP |
                                          HV_FEATURE_BLOCK_TIMEOUT | HV_FEATURE_VCPU_HOTPLUG});
        return done(HV_OK);
    }
    case HV_VERSION_OP_SELF: {
        if (!args_zero(call)) return refuse(vcpu, call, HV_EINVAL, "nonzero output fields on input");
        hv_version_self_t self{};
        self.domid = svc_.domid();
        self.max_vcpus = svc_.max_vcpus();
        svc_.uuid(self.uuid);
        store(call, self);
        return done(HV_OK);
    }
    default: return refuse(vcpu, call, HV_ENOSYS, "unknown version op");
    }
}

CallOutcome HypercallDispatcher::console_op(uint32_t vcpu, hv_call_t& call) {
    if (call.op != HV_CONSOLE_IO_OP_WRITE && call.op != HV_CONSOLE_IO_OP_READ)
        return refuse(vcpu, call, HV_ENOSYS, "unknown console_io op");
    hv_console_io_t req;
    if (!load(call, req) || req._pad0 != 0) return refuse(vcpu, call, HV_EINVAL, "nonzero padding in console_io");
    if (req.len > HV_CONSOLE_IO_MAX) return refuse(vcpu, call, HV_E2BIG, "console_io length over HV_CONSOLE_IO_MAX");
    uint8_t* buf = ram_.at(req.buf.addr, req.len);
    if (buf == nullptr) return refuse(vcpu, call, HV_EFAULT, "console_io buffer outside guest RAM");
    if (call.op == HV_CONSOLE_IO_OP_WRITE) {
        // Copied once, like the slot: another vCPU may rewrite the buffer
        // while the console stores and streams it. In chunks, so the
        // frame stays small enough for a ring-0 stack (-Wframe-larger-than).
        uint8_t copy[256];
        for (uint32_t off = 0; off < req.len; off += sizeof copy) {
            const uint32_t n = req.len - off < sizeof copy ? req.len - off : static_cast<uint32_t>(sizeof copy);
            copy_bytes(copy, buf + off, n);
            svc_.console_write(copy, n);
        }
        return done(req.len);
    }
    return done(svc_.console_read(buf, req.len));
}

CallOutcome HypercallDispatcher::sched_op(uint32_t vcpu, hv_call_t& call, bool in_multicall) {
    switch (call.op) {
    case HV_SCHED_OP_YIELD:
        if (!args_zero(call)) return refuse(vcpu, call, HV_EINVAL, "yield takes no arguments");
        return CallOutcome{HV_OK, Action::yield, 0, ShutdownReason::poweroff};
    case HV_SCHED_OP_BLOCK: {
        hv_sched_block_t req;
        if (!load(call, req) || req._pad0 != 0) return refuse(vcpu, call, HV_EINVAL, "nonzero padding in block");
        if (in_multicall) return refuse(vcpu, call, HV_EINVAL, "block inside a multicall");
        return CallOutcome{HV_OK, Action::block, req.timeout_ns, ShutdownReason::poweroff};
    }
    case HV_SCHED_OP_SHUTDOWN: {
        hv_sched_shutdown_t req;
        if (!load(call, req) || req._pad0 != 0) return refuse(vcpu, call, HV_EINVAL, "nonzero padding in shutdown");
        ShutdownReason reason;
        if (!reason_from_abi(req.reason, reason)) return refuse(vcpu, call, HV_EINVAL, "unknown shutdown reason");
        return CallOutcome{HV_OK, Action::shutdown, 0, reason};
    }
    default: return refuse(vcpu, call, HV_ENOSYS, "unknown sched_op");
    }
}

CallOutcome HypercallDispatcher::vcpu_op(uint32_t vcpu, hv_call_t& call, bool in_multicall) {
    switch (call.op) {
    case HV_VCPU_OP_IS_UP: {
        hv_vcpu_is_up_t req;
        if (!load(call, req) || req.up != 0) return refuse(vcpu, call, HV_EINVAL, "nonzero padding or output field");
        if (req.vcpu >= svc_.max_vcpus()) return refuse(vcpu, call, HV_ENOENT, "no such vCPU");
        req.up = svc_.vcpu_is_up(req.vcpu) ? 1 : 0;
        store(call, req);
        return done(HV_OK);
    }
    case HV_VCPU_OP_CURRENT: {
        if (!args_zero(call)) return refuse(vcpu, call, HV_EINVAL, "nonzero output fields on input");
        store(call, hv_vcpu_current_t{vcpu, svc_.max_vcpus()});
        return done(HV_OK);
    }
    case HV_VCPU_OP_UP: {
        hv_vcpu_up_t req;
        if (!load(call, req)) return refuse(vcpu, call, HV_EINVAL, "nonzero padding in vcpu up");
        if (req.vcpu >= svc_.max_vcpus()) return refuse(vcpu, call, HV_ENOENT, "no such vCPU");
        if ((req.code_sel & ~7u) == 0 || (req.data_sel & ~7u) == 0)
            return refuse(vcpu, call, HV_EINVAL, "null selector in vcpu up");
        if (!canonical(req.rip) || !canonical(req.rsp))
            return refuse(vcpu, call, HV_EINVAL, "non-canonical rip or rsp in vcpu up");
        if (!ram_.contains(req.cr3 & ~0xfffull, 4096)) return refuse(vcpu, call, HV_EFAULT, "cr3 outside guest RAM");
        const int64_t r = svc_.vcpu_up(vcpu, req);
        if (r < 0) return refuse(vcpu, call, r, r == HV_EBUSY ? "vCPU already up" : "vCPU could not start");
        return done(r);
    }
    case HV_VCPU_OP_DOWN: {
        hv_vcpu_down_t req;
        if (!load(call, req) || req._pad0 != 0) return refuse(vcpu, call, HV_EINVAL, "nonzero padding in vcpu down");
        if (req.vcpu != vcpu) return refuse(vcpu, call, HV_EINVAL, "vcpu down of another vCPU (only the caller goes down)");
        if (in_multicall) return refuse(vcpu, call, HV_EINVAL, "vcpu down inside a multicall");
        if (vcpu == 0) return refuse(vcpu, call, HV_EBUSY, "vCPU 0 takes the domain's events and stays up");
        return CallOutcome{HV_OK, Action::down, 0, ShutdownReason::poweroff};
    }
    case HV_VCPU_OP_TARGET: {
        if (!args_zero(call)) return refuse(vcpu, call, HV_EINVAL, "nonzero output fields on input");
        store(call, hv_vcpu_target_t{svc_.vcpu_target(), svc_.max_vcpus()});
        return done(HV_OK);
    }
    default: return refuse(vcpu, call, HV_ENOSYS, "unknown vcpu_op");
    }
}

CallOutcome HypercallDispatcher::multicall(uint32_t vcpu, hv_call_t& call, bool in_multicall) {
    if (call.op != HV_MULTICALL_OP_CALL) return refuse(vcpu, call, HV_ENOSYS, "unknown multicall op");
    if (in_multicall) return refuse(vcpu, call, HV_EINVAL, "nested multicall");
    hv_multicall_t req;
    if (!load(call, req) || req._pad0 != 0) return refuse(vcpu, call, HV_EINVAL, "nonzero padding in multicall");
    if (req.count > HV_MULTICALL_MAX) return refuse(vcpu, call, HV_E2BIG, "multicall count over HV_MULTICALL_MAX");
    const uint64_t bytes = uint64_t{req.count} * sizeof(hv_call_t);
    if ((req.calls.addr & 7) != 0 || !ram_.contains(req.calls.addr, bytes))
        return refuse(vcpu, call, HV_EFAULT, "multicall array not 8-byte aligned guest RAM");

    CallOutcome batch = done(0);
    bool yield = false;
    uint64_t console_bytes = 0; // work done in this exit (the continuation's budget)
    for (uint32_t i = 0; i < req.count; ++i) {
        if (console_bytes >= HV_MULTICALL_CONSOLE_BUDGET && batch.action != Action::shutdown) break; // preempted

        const uint64_t gpa = req.calls.addr + uint64_t{i} * sizeof(hv_call_t);
        hv_call_t slot;
        ram_.read(gpa, &slot, sizeof slot);
        if (batch.action == Action::shutdown) {
            slot.result = HV_ECANCELED;
        } else {
            const CallOutcome one = run_slot(vcpu, slot, true);
            slot.result = one.result;
            if (slot.group == HV_GROUP_CONSOLE_IO && one.result > 0) console_bytes += static_cast<uint64_t>(one.result);
            batch.result = i + 1;
            yield = yield || one.action == Action::yield;
            if (one.action == Action::shutdown) {
                batch.action = Action::shutdown;
                batch.reason = one.reason;
            }
        }
        ram_.write(gpa, &slot, sizeof slot);
    }
    if (batch.action == Action::none && yield) batch.action = Action::yield;
    return batch;
}

} // namespace hv::core
