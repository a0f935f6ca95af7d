// The fake Backend the control tests hand to handle_request
// (test_request_handler.cpp, test_request_handler_devices.cpp): it records
// every call with its arguments and returns canned values, or `fail`.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hv/sdk/backend.hpp"

namespace hv::control_test {

using hv::Errc;
using hv::Error;
using hv::Result;
using hv::sdk::CreateRequest;
using hv::sdk::DomainInfo;
using hv::sdk::HostInfo;
using hv::sdk::ShutdownReason;
using hv::sdk::ShutdownRequest;

// Records every call with its arguments; returns canned values, or `fail`
// from every call when set.
class FakeBackend final : public hv::sdk::Backend {
public:
    struct Call {
        Call(std::string m, uint32_t d = 0, std::string t = {}, uint32_t timeout = 0)
            : method(std::move(m)), domid(d), text(std::move(t)), timeout_ms(timeout) {}
        std::string method;
        uint32_t domid = 0;
        std::string text; // name, bytes
        uint32_t timeout_ms = 0;
        CreateRequest create;
        ShutdownRequest shutdown;
        hv::sdk::DeviceKind kind = hv::sdk::DeviceKind::disk; // attach_device, detach_device
        uint32_t flags = 0;                                   // attach_device, detach_device
        hv::sdk::DiskLimits limits;                           // set_disk_limits
    };
    std::vector<Call> calls;
    std::optional<Error> fail;

    uint32_t create_id = 11;
    uint32_t lookup_id = 12;
    uint32_t start_id = 13;
    DomainInfo info_value;
    DomainInfo wait_value;
    std::vector<DomainInfo> list_value;
    std::string history = std::string("boot\0ok\n", 8);
    HostInfo host;
    std::vector<std::string> dmesg_lines{"hv: started", "dom 1: created"};
    std::vector<std::string> defined{"alpha", "beta"};

    FakeBackend() {
        host.nr_cpus = 2;
        host.nr_domains = 3;
        host.total_mib = 24576;
        host.free_mib = 20000;
        host.abi_version = 1;
        host.ctl_version = 1;
        info_value.domid = 7;
        info_value.name = "web";
        info_value.vcpus = 2;
        info_value.memory_mib = 512;
        info_value.uuid[3] = 0x33;
        wait_value = info_value;
        wait_value.state = hv::sdk::State::shutdown;
        wait_value.shutdown_reason = ShutdownReason::reboot;
        wait_value.restarted_as = 8;
        DomainInfo other = info_value;
        other.domid = 9;
        other.name = "db";
        other.state = hv::sdk::State::paused;
        list_value = {info_value, other};
    }

    Result<uint32_t> create(const CreateRequest& req) override {
        Call c{"create"};
        c.create = req;
        return record(std::move(c), create_id);
    }
    Result<void> destroy(uint32_t domid) override { return record_void({"destroy", domid}); }
    Result<void> pause(uint32_t domid) override { return record_void({"pause", domid}); }
    Result<void> unpause(uint32_t domid) override { return record_void({"unpause", domid}); }
    Result<void> shutdown(uint32_t domid, const ShutdownRequest& req) override {
        Call c{"shutdown", domid};
        c.shutdown = req;
        return record_void(std::move(c));
    }
    Result<void> rename(uint32_t domid, std::string_view name) override {
        return record_void({"rename", domid, std::string(name)});
    }
    Result<void> set_vcpus(uint32_t domid, uint32_t online) override {
        return record_void({"set_vcpus", domid, std::to_string(online)});
    }
    Result<DomainInfo> info(uint32_t domid) override { return record({"info", domid}, info_value); }
    Result<std::vector<DomainInfo>> list() override { return record({"list"}, list_value); }
    Result<uint32_t> lookup(std::string_view name) override { return record({"lookup", 0, std::string(name)}, lookup_id); }
    Result<DomainInfo> wait(uint32_t domid, uint32_t timeout_ms) override {
        return record({"wait", domid, {}, timeout_ms}, wait_value);
    }
    hv::sdk::ConsoleType last_console = hv::sdk::ConsoleType::automatic;
    std::vector<hv::sdk::BlockInfo> blocks;
    Result<std::vector<hv::sdk::BlockInfo>> block_list(uint32_t domid) override { return record({"block_list", domid}, blocks); }
    std::vector<hv::sdk::VifInfo> vifs;
    Result<std::vector<hv::sdk::VifInfo>> network_list(uint32_t domid) override { return record({"network_list", domid}, vifs); }
    // text: "devid bytes interval_us"
    Result<void> set_vif_rate(uint32_t domid, uint32_t devid, uint64_t bytes, uint32_t interval_us) override {
        return record_void({"set_vif_rate", domid, fmt_rate(devid, bytes, interval_us)});
    }
    static std::string fmt_rate(uint32_t devid, uint64_t bytes, uint32_t interval_us) {
        return std::to_string(devid) + " " + std::to_string(bytes) + " " + std::to_string(interval_us);
    }
    uint32_t attach_id = 14;
    // text: the spec
    Result<uint32_t> attach_device(uint32_t domid, hv::sdk::DeviceKind kind, std::string_view spec, uint32_t flags) override {
        Call c{"attach_device", domid, std::string(spec)};
        c.kind = kind;
        c.flags = flags;
        return record(std::move(c), attach_id);
    }
    // text: the device's name
    Result<void> detach_device(uint32_t domid, hv::sdk::DeviceKind kind, std::string_view device, uint32_t flags,
                               uint32_t timeout_ms) override {
        Call c{"detach_device", domid, std::string(device), timeout_ms};
        c.kind = kind;
        c.flags = flags;
        return record_void(std::move(c));
    }
    // text: the devid
    Result<void> set_disk_limits(uint32_t domid, uint32_t devid, const hv::sdk::DiskLimits& limits) override {
        Call c{"set_disk_limits", domid, std::to_string(devid)};
        c.limits = limits;
        return record_void(std::move(c));
    }
    Result<void> console_write(uint32_t domid, hv::sdk::ConsoleType type, std::string_view bytes) override {
        last_console = type;
        return record_void({"console_write", domid, std::string(bytes)});
    }
    Result<std::string> console_history(uint32_t domid, hv::sdk::ConsoleType type) override {
        last_console = type;
        return record({"console_history", domid}, history);
    }
    Result<HostInfo> host_info() override { return record({"host_info"}, host); }
    Result<std::vector<std::string>> dmesg() override { return record({"dmesg"}, dmesg_lines); }
    Result<void> define(const CreateRequest& req) override {
        Call c{"define"};
        c.create = req;
        return record_void(std::move(c));
    }
    Result<uint32_t> start(std::string_view name) override { return record({"start", 0, std::string(name)}, start_id); }
    Result<void> undefine(std::string_view name) override { return record_void({"undefine", 0, std::string(name)}); }
    Result<std::vector<std::string>> list_defined() override { return record({"list_defined"}, defined); }
    Result<std::unique_ptr<hv::sdk::Subscription>> subscribe_events(std::function<void(const hv::sdk::Event&)>) override {
        calls.push_back({"subscribe_events"});
        return hv::make_error(Errc::not_supported, "fake");
    }
    Result<std::unique_ptr<hv::sdk::Subscription>> subscribe_console(uint32_t domid, hv::sdk::ConsoleType,
                                                                    std::function<void(std::string_view)>) override {
        calls.push_back({"subscribe_console", domid});
        return hv::make_error(Errc::not_supported, "fake");
    }

    const Call& only_call() const {
        REQUIRE(calls.size() == 1);
        return calls.front();
    }

private:
    template <class T>
    Result<T> record(Call c, const T& value) {
        calls.push_back(std::move(c));
        if (fail) return *fail;
        return value;
    }
    Result<void> record_void(Call c) {
        calls.push_back(std::move(c));
        if (fail) return *fail;
        return {};
    }
};

} // namespace hv::control_test
