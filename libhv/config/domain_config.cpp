// xl.cfg(5) keys -> DomainConfig. Keys hv acts on are checked here; keys xl
// knows but hv does not do yet, and keys nobody knows, are kept in
// DomainConfig::unsupported (xl ignores unknown keys silently; we say so).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <system_error>

#include <fmt/format.h>

#include "boot/pvh_loader.hpp"
#include "config/cpu_list.hpp"
#include "config/domain_config.hpp"
#include "config/domain_config_loader.hpp"
#include "config/guest_disks.hpp"
#include "config/guest_vifs.hpp"
#include "config/xl_cfg_parser.hpp"
#include "core/sched/cpu_mask.hpp"
#include "core/sched/scheduler.hpp"
#include "hv/abi/control.h"
#include "hv/abi/domain_name.h"
#include "platform/kvm/kvm_vm.hpp"

namespace hv::config {

uint32_t max_vcpus_of(const DomainConfig& dc) { return dc.maxvcpus != 0 ? dc.maxvcpus : dc.vcpus; }

std::string uuid_to_string(const Uuid& u) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < u.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        s += hex[u[i] >> 4];
        s += hex[u[i] & 0xf];
    }
    return s;
}

namespace {

// Reading takes any memory size whose bytes fit 64 bits; check_creatable
// holds it to what the platform can map.
constexpr uint64_t max_memory_mib = UINT64_MAX >> 20;
constexpr size_t max_file_size = kMaxCfgTextBytes;

static_assert(kMinMemoryMib << 20 == boot::kMinRam, "the PVH loader's minimum RAM");
static_assert(kMaxVcpus == core::sched::kMaxVcpusPerDomain, "the scheduler takes every vCPU a config may have");
static_assert(core::sched::kMaxPcpus == 64, "SchedConfig's CPU masks are one uint64_t");
static_assert(kMaxMemoryMib << 20 <= kvm::kMaxRamBytes && (kMaxMemoryMib + 1) << 20 > kvm::kMaxRamBytes,
              "the most RAM the KVM platform maps, in whole MiB");

using Kind = CfgValue::Kind;

// How lightly a key hv does not honour yet is still checked.
enum class Check : uint8_t { any, string, strings, number };

struct KnownKey {
    std::string_view name;
    Check check;
};

// xl.cfg(5) keys users write that hv does not act on yet (sorted by name).
// disk and vif specs are parsed too (parse_specs); the other device lists
// (pci, vfb, channel, ...) are only checked to be strings.
constexpr KnownKey not_yet[] = {
    {"acpi", Check::number}, {"acpi_firmware", Check::string}, {"acpi_s3", Check::number},
    {"acpi_s4", Check::number}, {"altp2m", Check::any}, {"apic", Check::number}, {"bios", Check::string},
    {"boot", Check::string}, {"bootloader", Check::string}, {"bootloader_args", Check::strings},
    {"builder", Check::string}, {"channel", Check::strings}, {"claim_mode", Check::number},
    {"cpuid", Check::strings}, {"device_model", Check::string}, {"device_model_args", Check::strings},
    {"device_model_override", Check::string},
    {"device_model_stubdomain_override", Check::number}, {"device_model_user", Check::string},
    {"device_model_version", Check::string}, {"dm_restrict", Check::number},
    {"driver_domain", Check::number}, {"dtdev", Check::strings}, {"e820_host", Check::number},
    {"firmware", Check::string}, {"gfx_passthru", Check::any}, {"hap", Check::number},
    {"hdtype", Check::string}, {"hpet", Check::number}, {"iomem", Check::strings}, {"ioports", Check::strings},
    {"irqs", Check::any}, {"keymap", Check::string}, {"localtime", Check::number},
    {"max_grant_frames", Check::number}, {"max_maptrack_frames", Check::number}, {"nestedhvm", Check::number},
    {"nographic", Check::number}, {"nomigrate", Check::number}, {"on_soft_reset", Check::string},
    {"on_watchdog", Check::string}, {"p9", Check::strings}, {"pae", Check::number}, {"pci", Check::strings},
    {"pool", Check::string}, {"rtc_timeoffset", Check::number}, {"sdl", Check::number},
    {"seclabel", Check::string}, {"serial", Check::strings}, {"shadow_memory", Check::number},
    {"soundhw", Check::string}, {"stdvga", Check::number}, {"timer_mode", Check::any},
    {"tsc_mode", Check::any}, {"type", Check::string}, {"usb", Check::number}, {"usbctrl", Check::strings},
    {"usbdev", Check::strings}, {"usbdevice", Check::strings}, {"vcpu_hard_affinity", Check::any},
    {"vfb", Check::strings}, {"vga", Check::string}, {"videoram", Check::number},
    {"viridian", Check::any}, {"vkb", Check::strings}, {"vnc", Check::number}, {"vncdisplay", Check::number},
    {"vnclisten", Check::string}, {"vncpasswd", Check::string}, {"vncunused", Check::number},
    {"vtpm", Check::strings}, {"xen_platform_pci", Check::number},
};

constexpr bool by_name(const KnownKey& a, const KnownKey& b) { return a.name < b.name; }
static_assert(std::is_sorted(std::begin(not_yet), std::end(not_yet), by_name), "not_yet is sorted by name");

const KnownKey* find_known(std::string_view key) {
    const auto it = std::lower_bound(std::begin(not_yet), std::end(not_yet), KnownKey{key, Check::any}, by_name);
    return it != std::end(not_yet) && it->name == key ? it : nullptr;
}

hv::Error invalid(const CfgLocation& at, std::string_view key, const std::string& message) {
    return hv::make_error(Errc::invalid_argument, at.str() + ": " + std::string(key) + ": " + message);
}

// libxlutil keeps every scalar as text, so xl takes a number where it wants
// a string (name = 42) and a quoted number where it wants a number
// (memory = '128', as in Xen's own examples). We do the same.
hv::Result<std::string> get_string(const CfgSetting& s) {
    if (s.value.kind == Kind::list) return invalid(s.value.where, s.key, "expected a string, found a list");
    return s.value.text;
}

hv::Result<uint64_t> get_number(const CfgSetting& s, uint64_t min, uint64_t max) {
    const CfgValue& v = s.value;
    uint64_t n = v.number;
    if (v.kind == Kind::list) return invalid(v.where, s.key, "expected a number, found a list");
    // libxlutil will not read a number from text built with '+=' (xl warns
    // and ignores the key); we refuse it.
    if (s.appended) return invalid(s.where, s.key, "'" + v.text + "' was built with '+=': not a number");
    if (v.kind == Kind::string && !parse_cfg_number(v.text, n))
        return invalid(v.where, s.key, "'" + v.text + "' is not a number");
    if (n < min || n > max)
        return invalid(v.where, s.key,
                       std::to_string(n) + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) +
                           ")");
    return n;
}

hv::Result<void> check_value(const CfgSetting& s, Check check) {
    const CfgValue& v = s.value;
    switch (check) {
    case Check::any: return {};
    case Check::string: return v.kind == Kind::list ? invalid(v.where, s.key, "expected a string, found a list")
                                                    : hv::Result<void>{};
    case Check::number: {
        auto n = get_number(s, 0, UINT64_MAX);
        if (!n) return n.error();
        return {};
    }
    case Check::strings:
        if (v.kind == Kind::number) return invalid(v.where, s.key, "expected a string or a list of strings");
        for (const CfgValue& item : v.items)
            if (item.kind != Kind::string) return invalid(item.where, s.key, "list elements must be strings");
        return {};
    }
    return {};
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 4122 text form, 8-4-4-4-12 hex digits either case. The version and
// variant nibbles are not checked: xl accepts any such UUID (the seeds'
// "baaaa213-6d28-c55b-..." has no valid version).
bool parse_uuid(std::string_view text, Uuid& out) {
    if (text.size() != 36) return false;
    size_t byte = 0;
    for (size_t i = 0; i < text.size(); i += 2) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i++] != '-') return false;
        }
        const int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[byte++] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return true;
}

// disk= / vif=: one spec or a list of them (already checked to be strings),
// each parsed by `parse`; a bad one names its own position and the key.
// A single string is taken as one spec (xl wants a list: it warns about a
// string and ignores it).
template <class Spec, class Parse>
hv::Result<void> parse_specs(const CfgSetting& s, std::vector<Spec>& out, Parse parse) {
    const auto one = [&](const CfgValue& v) -> hv::Result<void> {
        auto spec = parse(v.text);
        if (!spec) return invalid(v.where, s.key, spec.error().message);
        out.push_back(std::move(spec).value());
        return {};
    };
    if (s.value.kind != Kind::list) return one(s.value);
    for (const CfgValue& item : s.value.items)
        if (auto r = one(item); !r) return r;
    return {};
}

// A name as a message may show it: non-printable bytes as \xHH, at most
// 64 characters of it.
std::string show_name(std::string_view name) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < name.size() && i < 64; ++i) {
        const auto u = static_cast<unsigned char>(name[i]);
        if (u >= 0x20 && u < 0x7f) {
            out += name[i];
        } else {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        }
    }
    return name.size() > 64 ? out + "..." : out;
}

// The one name rule (hv/abi/domain_name.h); "" when `name` is valid.
std::string check_name(std::string_view name) {
    const char* why = hv_domain_name_problem(name.data(), name.size());
    if (why == HV_DOMAIN_NAME_OK) return {};
    if (name.empty() || name.size() > HV_DOMAIN_NAME_MAX) return why;
    return "'" + show_name(name) + "' " + why;
}

// "maxvcpus (4)", or "vcpus (4)" when maxvcpus is unset: the key the limit
// came from, as messages name it.
std::string max_vcpus_named(const DomainConfig& dc) {
    return std::string(dc.maxvcpus != 0 ? "maxvcpus" : "vcpus") + " (" + std::to_string(max_vcpus_of(dc)) + ")";
}

// "" when `cap` is within 0..kCreditCapPerVcpu x the max vCPUs, else what is wrong.
std::string cap_problem(uint64_t cap, const DomainConfig& dc) {
    const uint64_t most = uint64_t{core::sched::kCreditCapPerVcpu} * max_vcpus_of(dc);
    if (cap <= most) return {};
    return std::to_string(cap) + " is above " + std::to_string(core::sched::kCreditCapPerVcpu) + " x " +
           max_vcpus_named(dc) + " = " + std::to_string(most);
}

// "" when `lists` per-vCPU CPU lists fit the max vCPUs, else what is wrong.
std::string per_vcpu_problem(size_t lists, const DomainConfig& dc) {
    if (lists <= 1 || lists <= max_vcpus_of(dc)) return {};
    return std::to_string(lists) + " per-vCPU CPU lists are more than " + max_vcpus_named(dc);
}

// Turns the merged settings into a DomainConfig. `base_dir` (may be empty)
// resolves relative paths set in `source` itself.
hv::Result<DomainConfig> build(const XlCfg& cfg, std::string_view source, const std::string& base_dir) {
    DomainConfig dc;
    dc.source = std::string(source);
    const CfgSetting* disk = nullptr;
    const CfgSetting *kernel = nullptr, *ramdisk = nullptr, *maxmem = nullptr, *maxvcpus = nullptr, *cap = nullptr;
    uint64_t cap_value = 0;
    // cpus= and cpus_soft= given in xl's list form (one CPU list per vCPU).
    std::vector<const CfgSetting*> per_vcpu;
    std::string root, extra, cmdline;
    auto note = [&](const CfgSetting& s, std::string why) {
        dc.unsupported.push_back(Unsupported{s.key, s.where.str(), std::move(why)});
    };
    auto locate = [&](const CfgSetting& s) { dc.locations.insert_or_assign(s.key, s.value.where); };

    for (const CfgSetting& s : cfg.settings) {
        const std::string& key = s.key;
        if (key == "name" || key == "uuid" || key == "kernel" || key == "ramdisk" || key == "root" ||
            key == "extra" || key == "cmdline" || key == "kernel_entry") {
            auto text = get_string(s);
            if (!text) return text.error();
            locate(s);
            if (key == "name") {
                if (auto why = check_name(*text); !why.empty()) return invalid(s.value.where, key, why);
                dc.name = *text;
            } else if (key == "uuid") {
                Uuid u{};
                if (!parse_uuid(*text, u))
                    return invalid(s.value.where, key,
                                   "'" + *text + "' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
                dc.uuid = u;
            } else if (key == "kernel") {
                if (text->empty()) return invalid(s.value.where, key, "empty path");
                dc.kernel = *text;
                kernel = &s;
            } else if (key == "ramdisk") {
                dc.ramdisk = *text;
                if (!text->empty()) ramdisk = &s;
            } else if (key == "kernel_entry") {
                if (*text == "auto") dc.kernel_entry = boot::KernelEntry::automatic;
                else if (*text == "pvh") dc.kernel_entry = boot::KernelEntry::pvh;
                else if (*text == "bzimage") dc.kernel_entry = boot::KernelEntry::bzimage;
                else return invalid(s.value.where, key, "'" + *text + "' is not one of auto, pvh, bzimage");
            } else {
                (key == "root" ? root : key == "extra" ? extra : cmdline) = *text;
                // xl: cmdline= wins over root= and extra=, with a warning.
                if (key != "cmdline" && cfg.find("cmdline")) note(s, "ignored: cmdline= is set (as xl)");
            }
        } else if (key == "memory" || key == "maxmem") {
            auto mib = get_number(s, 1, max_memory_mib);
            if (!mib) return mib.error();
            locate(s);
            (key == "memory" ? dc.memory_mib : dc.maxmem_mib) = *mib;
            if (key == "maxmem") maxmem = &s;
        } else if (key == "vcpus" || key == "maxvcpus" || key == "maxvcpu") {
            auto n = get_number(s, 1, kMaxVcpus);
            if (!n) return n.error();
            locate(s);
            // maxvcpu (no s) turns up in old xm-era configs: honoured unless
            // maxvcpus is also set, and reported either way.
            const bool legacy_ignored = key == "maxvcpu" && cfg.find("maxvcpus");
            if (key == "maxvcpu")
                note(s, legacy_ignored ? "legacy spelling of maxvcpus; ignored, maxvcpus is set"
                                       : "legacy spelling of maxvcpus; honoured as maxvcpus");
            if (key == "vcpus") {
                dc.vcpus = static_cast<uint32_t>(*n);
            } else if (!legacy_ignored) {
                dc.maxvcpus = static_cast<uint32_t>(*n);
                maxvcpus = &s;
            }
        } else if (key == "on_poweroff" || key == "on_reboot" || key == "on_crash") {
            auto text = get_string(s);
            if (!text) return text.error();
            locate(s);
            core::ShutdownAction action{};
            if (!core::parse_action(text->data(), text->size(), action))
                return invalid(s.value.where, key,
                               "unknown action '" + *text +
                                   "' (destroy, restart, preserve, rename-restart, coredump-destroy, "
                                   "coredump-restart, soft-reset)");
            (key == "on_poweroff" ? dc.actions.on_poweroff
             : key == "on_reboot" ? dc.actions.on_reboot
                                  : dc.actions.on_crash) = action;
            if (!core::action_supported(action))
                note(s, std::string("action '") + core::action_name(action) + "' not supported yet");
        } else if (key == "io_weight") {
            using core::qos::ShareArbiter;
            auto n = get_number(s, ShareArbiter::kMinWeight, ShareArbiter::kMaxWeight);
            if (!n) return n.error();
            locate(s);
            dc.io_weight = static_cast<uint32_t>(*n);
        } else if (key == "cpu_weight" || key == "cap") {
            // cap is held to 100 x the max vCPUs once those are known.
            auto n = key == "cap" ? get_number(s, 0, UINT64_MAX)
                                  : get_number(s, core::sched::kCreditWeightMin, core::sched::kCreditWeightMax);
            if (!n) return n.error();
            locate(s);
            if (key == "cap") {
                cap = &s;
                cap_value = *n;
            } else {
                dc.sched.weight = static_cast<uint32_t>(*n);
            }
        } else if (key == "cpus" || key == "cpus_soft") {
            auto affinity = parse_cpu_affinity(s);
            if (!affinity && affinity.error().code == Errc::not_supported) {
                note(s, std::string(kNumaNotSupported));
                continue;
            }
            if (!affinity) return affinity.error();
            locate(s);
            if (affinity->per_vcpu) per_vcpu.push_back(&s);
            (key == "cpus" ? dc.sched.cpus_hard : dc.sched.cpus_soft) = std::move(affinity->masks);
        } else if (key == "disk") {
            if (auto checked = check_value(s, Check::strings); !checked) return checked.error();
            if (auto parsed = parse_specs(s, dc.disks, parse_disk_spec); !parsed) return parsed.error();
            locate(s);
            disk = &s;
        } else if (key == "vif") {
            if (auto checked = check_value(s, Check::strings); !checked) return checked.error();
            if (auto parsed = parse_specs(s, dc.vifs, parse_vif_spec); !parsed) return parsed.error();
            locate(s);
        } else if (const KnownKey* known = find_known(key)) {
            if (auto checked = check_value(s, known->check); !checked) return checked.error();
            note(s, "not supported yet");
        } else {
            note(s, "unknown key");
        }
    }

    if (dc.name.empty()) return hv::make_error(Errc::invalid_argument, dc.source + ": name: required key is missing");
    if (!kernel)
        return hv::make_error(Errc::invalid_argument,
                              dc.source + ": kernel: required key is missing" +
                                  (cfg.find("bootloader") ? " (bootloader= is not supported yet)" : ""));

    // As xl builds a PV command line: cmdline= alone, else "root=ROOT EXTRA".
    if (cfg.find("cmdline")) dc.cmdline = cmdline;
    else if (cfg.find("root")) dc.cmdline = "root=" + root + (cfg.find("extra") ? " " + extra : std::string());
    else dc.cmdline = extra;

    if (maxmem && dc.maxmem_mib < dc.memory_mib)
        return invalid(maxmem->value.where, maxmem->key,
                       std::to_string(dc.maxmem_mib) + " MiB is less than memory (" + std::to_string(dc.memory_mib) +
                           " MiB)");
    if (maxvcpus && dc.maxvcpus < dc.vcpus)
        return invalid(maxvcpus->value.where, maxvcpus->key,
                       std::to_string(dc.maxvcpus) + " is less than vcpus (" + std::to_string(dc.vcpus) + ")");
    if (cap) {
        if (auto why = cap_problem(cap_value, dc); !why.empty()) return invalid(cap->value.where, cap->key, why);
        dc.sched.cap = static_cast<uint32_t>(cap_value); // at most 100 x kMaxVcpus
    }
    for (const CfgSetting* setting : per_vcpu) {
        std::vector<uint64_t>& masks = setting->key == "cpus" ? dc.sched.cpus_hard : dc.sched.cpus_soft;
        if (auto why = per_vcpu_problem(masks.size(), dc); !why.empty())
            return invalid(setting->value.where, setting->key, why);
        // One mask reads as every vCPU's (SchedConfig), but xl's list of one
        // CPU list is vCPU 0's alone.
        if (masks.size() == 1 && max_vcpus_of(dc) > 1) {
            masks.clear();
            dc.locations.erase(setting->key);
            note(*setting, "a list of one CPU list pins vCPU 0 alone, which is not supported yet with " +
                         max_vcpus_named(dc) + ": write it as a string to pin every vCPU, or list one per vCPU");
        }
    }

    // Relative paths in a file mean "next to this file"; an override's are
    // the caller's (relative to its working directory).
    for (auto [setting, path] : {std::pair{kernel, &dc.kernel}, std::pair{ramdisk, &dc.ramdisk}}) {
        if (setting && !base_dir.empty() && setting->where.source_name() == dc.source &&
            std::filesystem::path(*path).is_relative())
            *path = (std::filesystem::path(base_dir) / *path).string();
    }
    if (disk && !base_dir.empty() && disk->where.source_name() == dc.source)
        for (DiskSpec& d : dc.disks)
            if (!d.target.empty() && std::filesystem::path(d.target).is_relative())
                d.target = (std::filesystem::path(base_dir) / d.target).string();
    return dc;
}

hv::Result<DomainConfig> parse_with_base(std::string_view text, std::string_view source,
                                         const std::vector<std::string>& overrides, const std::string& base_dir) {
    XlCfg cfg;
    if (auto parsed = parse_xl_cfg_into(cfg, text, source); !parsed) return parsed.error();
    for (size_t i = 0; i < overrides.size(); ++i) {
        const std::string name = "override " + std::to_string(i + 1);
        const std::string& o = overrides[i];
        if (o.find_first_not_of(" \t") == std::string::npos)
            return hv::make_error(Errc::parse_error, name + ": empty, expected KEY=VALUE");
        if (auto parsed = parse_xl_cfg_into(cfg, o, name, XlCfgOptions{.bare_words = true}); !parsed)
            return hv::make_error(parsed.error().code, parsed.error().message + " (in '" + o + "')");
    }
    return build(cfg, source, base_dir);
}

// The whole file, or an error naming the path and errno's text.
hv::Result<std::string> read_file(const std::string& path) {
    auto failure = [&](const char* what, int err) {
        const Errc code = err == ENOENT ? Errc::not_found : Errc::io_error;
        const std::string reason = std::error_code(err, std::generic_category()).message();
        return hv::make_error(code, path + ": " + what + ": " + reason);
    };
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return failure("cannot open", errno);
    std::string text;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        text.append(buf, n);
        if (text.size() > max_file_size) {
            std::fclose(f);
            return hv::make_error(Errc::io_error, path + ": larger than " + std::to_string(max_file_size >> 20) +
                                                      " MiB, not a domain config");
        }
    }
    const int err = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (err != 0) return failure("cannot read", err);
    return text;
}

} // namespace

hv::Result<DomainConfig> parse_domain_config(std::string_view text, std::string_view source_name,
                                             const std::vector<std::string>& overrides) {
    return parse_with_base(text, source_name, overrides, std::string());
}

hv::Result<DomainConfig> load_domain_config(const std::string& path, const std::vector<std::string>& overrides) {
    auto text = read_file(path);
    if (!text) return text.error();
    return parse_with_base(*text, path, overrides, std::filesystem::path(path).parent_path().string());
}

namespace {

// "FILE:LINE:COLUMN: key: what" with the first of `keys` that was written
// in the config; else "FIELD: what" for a config built from typed fields,
// "FILE: key: what", or "key: what" for a config built in code.
hv::Error refuse(const DomainConfig& dc, Errc code, std::initializer_list<std::string_view> keys,
                 const std::string& what) {
    for (std::string_view key : keys)
        if (const auto at = dc.locations.find(key); at != dc.locations.end())
            return hv::make_error(code, at->second.str() + ": " + std::string(key) + ": " + what);
    for (std::string_view key : keys)
        if (const auto field = dc.fields.find(key); field != dc.fields.end())
            return hv::make_error(code, field->second + ": " + what);
    const std::string key(*keys.begin());
    return hv::make_error(code, (dc.source.empty() ? key : dc.source + ": " + key) + ": " + what);
}

// What hv's disks can be: raw images, block devices and qcow2 images
// presented as virtio-blk, each vdev once.
hv::Result<void> check_disks(const DomainConfig& dc) {
    if (dc.disks.size() > kMaxDisks)
        return refuse(dc, Errc::invalid_argument, {"disk"},
                      std::to_string(dc.disks.size()) + " disks: at most " + std::to_string(kMaxDisks));
    for (size_t i = 0; i < dc.disks.size(); ++i) {
        const DiskSpec& d = dc.disks[i];
        const std::string which = "disk " + std::to_string(i + 1) + " ('" + d.vdev + "'): ";
        const auto unsupported = [&](const std::string& what) {
            return refuse(dc, Errc::not_supported, {"disk"}, which + what);
        };
        if (!parse_vdev(d.vdev))
            return refuse(dc, Errc::invalid_argument, {"disk"},
                          which + "not a vdev hv knows (xvdX, hdX, sdX or vdX, then a partition number 1..255 if any)");
        for (size_t k = 0; k < i; ++k)
            if (dc.disks[k].vdev == d.vdev)
                return refuse(dc, Errc::invalid_argument, {"disk"}, which + "the same vdev as disk " + std::to_string(k + 1));
        if (d.devtype == DiskDevtype::cdrom) return unsupported("cdrom drives are not supported yet");
        if (d.format != DiskFormat::raw && d.format != DiskFormat::qcow2)
            return unsupported(std::string("format '") + disk_format_name(d.format) + "' is not supported yet (raw and qcow2 only)");
        if (!d.backend.empty()) return unsupported("backend domains are not supported (the disk is served by hv itself)");
        if (!d.script.empty()) return unsupported("block scripts are not supported");
        if (d.target.empty()) return refuse(dc, Errc::invalid_argument, {"disk"}, which + "no target");
        if (d.target.size() >= HV_CTL_BLOCK_TARGET_MAX)
            return refuse(dc, Errc::invalid_argument, {"disk"},
                          which + "a target path of " + std::to_string(d.target.size()) + " bytes (at most " +
                              std::to_string(HV_CTL_BLOCK_TARGET_MAX - 1) + ")");
    }
    return {};
}

// What create refuses of the vifs: too many, more than 16 ip=, two with
// one devid, mac or vifname, scripts other than vif-bridge and vif-route, vif-route without
// ip=, backend domains, rates of 0 or past kMaxVifRateBytesPerSec, MTUs
// outside 68..65535. Errors name the vif ("vif 2 (devid 1): ...").
hv::Result<void> check_vifs(const DomainConfig& dc) {
    const auto refuse_vif = [&](Errc code, const std::string& what) { return refuse(dc, code, {"vif"}, what); };
    if (dc.vifs.size() > kMaxVifs) return refuse_vif(Errc::invalid_argument, fmt::format("{} vifs: at most {}", dc.vifs.size(), kMaxVifs));
    for (size_t i = 0; i < dc.vifs.size(); ++i) {
        const VifSpec& v = dc.vifs[i];
        const uint32_t devid = vif_devid(v, i);
        const std::string which = fmt::format("vif {} (devid {}): ", i + 1, devid);
        if (devid >= 256) return refuse_vif(Errc::invalid_argument, which + "devid past 255");
        for (size_t k = 0; k < i; ++k) {
            const VifSpec& o = dc.vifs[k];
            if (vif_devid(o, k) == devid) return refuse_vif(Errc::invalid_argument, which + fmt::format("the same devid as vif {}", k + 1));
            if (v.mac && o.mac && *v.mac == *o.mac)
                return refuse_vif(Errc::invalid_argument, which + fmt::format("the same mac ({}) as vif {}", mac_to_string(*v.mac), k + 1));
            if (!v.vifname.empty() && v.vifname == o.vifname)
                return refuse_vif(Errc::invalid_argument, which + fmt::format("the same vifname ('{}') as vif {}", v.vifname, k + 1));
        }
        if (!v.backend.empty()) return refuse_vif(Errc::not_supported, which + "backend domains are not supported (hv serves the vif itself)");
        const std::string_view script = vif_script_name(v.script);
        if (script == "vif-nat")
            return refuse_vif(Errc::not_supported,
                          which + "script vif-nat is not supported (hv runs no DHCP server): use vif-route and masquerade on the host");
        if (!script.empty() && script != "vif-bridge" && script != "vif-route")
            return refuse_vif(Errc::not_supported, which + fmt::format("script '{}' is not supported (vif-bridge or vif-route)", v.script));
        if (v.ips.size() > kMaxVifIps)
            return refuse_vif(Errc::invalid_argument, which + fmt::format("{} ip= addresses: at most {}", v.ips.size(), kMaxVifIps));
        if (script == "vif-route" && v.ips.empty()) return refuse_vif(Errc::invalid_argument, which + "vif-route needs ip= (the routes it adds)");
        if (v.rate_interval_usecs != 0 || !v.rate.empty()) {
            if (v.rate_bytes_per_interval == 0 || v.rate_interval_usecs == 0)
                return refuse_vif(Errc::invalid_argument, which + fmt::format("rate '{}' is less than one byte per interval", v.rate));
            if (vif_rate_over_limit(v.rate_bytes_per_interval, v.rate_interval_usecs))
                return refuse_vif(Errc::invalid_argument, which + fmt::format("rate '{}' is over 100Gb/s", v.rate));
        }
        if (v.mtu && (*v.mtu < 68 || *v.mtu > 65535))
            return refuse_vif(Errc::invalid_argument, which + fmt::format("mtu {} is outside 68..65535", *v.mtu));
    }
    return {};
}

} // namespace

hv::Result<void> check_creatable(const DomainConfig& dc) {
    const auto invalid_value = [&](std::initializer_list<std::string_view> keys, const std::string& what) {
        return refuse(dc, Errc::invalid_argument, keys, what);
    };
    if (dc.name.empty()) return invalid_value({"name"}, "required key is missing");
    if (auto why = check_name(dc.name); !why.empty()) return invalid_value({"name"}, why);
    if (dc.kernel.empty()) return invalid_value({"kernel"}, "required key is missing");

    for (const Unsupported& u : dc.unsupported)
        if (u.why != "unknown key")
            return hv::make_error(Errc::not_supported, u.where + ": " + u.key + ": " + u.why);
    const std::pair<std::string_view, core::ShutdownAction> actions[] = {{"on_poweroff", dc.actions.on_poweroff},
                                                                         {"on_reboot", dc.actions.on_reboot},
                                                                         {"on_crash", dc.actions.on_crash}};
    for (const auto& [key, action] : actions)
        if (!core::action_supported(action))
            return refuse(dc, Errc::not_supported, {key},
                          std::string("action '") + core::action_name(action) + "' is not supported yet");

    const std::string memory = std::to_string(dc.memory_mib) + " MiB";
    if (dc.memory_mib < kMinMemoryMib)
        return invalid_value({"memory"}, memory + " is too little: a PVH guest needs at least " +
                                             std::to_string(kMinMemoryMib) + " MiB");
    if (dc.memory_mib > kMaxMemoryMib)
        return invalid_value({"memory"}, memory + " is more than hv gives a guest (at most " +
                                             std::to_string(kMaxMemoryMib) + " MiB: guest RAM lies below 4 GiB)");
    if (dc.maxmem_mib != 0 && dc.maxmem_mib < dc.memory_mib)
        return invalid_value({"maxmem"}, std::to_string(dc.maxmem_mib) + " MiB is less than memory (" + memory + ")");
    if (dc.vcpus < 1 || dc.vcpus > kMaxVcpus)
        return invalid_value({"vcpus"},
                             std::to_string(dc.vcpus) + " is out of range (1.." + std::to_string(kMaxVcpus) + ")");
    if (dc.maxvcpus != 0 && dc.maxvcpus < dc.vcpus)
        return invalid_value({"maxvcpus", "maxvcpu"},
                             std::to_string(dc.maxvcpus) + " is less than vcpus (" + std::to_string(dc.vcpus) + ")");
    if (dc.maxvcpus > kMaxVcpus)
        return invalid_value({"maxvcpus", "maxvcpu"},
                             std::to_string(dc.maxvcpus) + " is out of range (1.." + std::to_string(kMaxVcpus) + ")");

    using core::sched::kCreditWeightMax, core::sched::kCreditWeightMin;
    const SchedConfig& sched = dc.sched;
    if (sched.weight && (*sched.weight < kCreditWeightMin || *sched.weight > kCreditWeightMax))
        return invalid_value({"cpu_weight"}, std::to_string(*sched.weight) + " is out of range (" +
                                                 std::to_string(kCreditWeightMin) + ".." +
                                                 std::to_string(kCreditWeightMax) + ")");
    if (sched.cap)
        if (auto why = cap_problem(*sched.cap, dc); !why.empty()) return invalid_value({"cap"}, why);
    using core::qos::ShareArbiter;
    if (dc.io_weight < ShareArbiter::kMinWeight || dc.io_weight > ShareArbiter::kMaxWeight)
        return invalid_value({"io_weight"}, std::to_string(dc.io_weight) + " is out of range (" +
                                                std::to_string(ShareArbiter::kMinWeight) + ".." +
                                                std::to_string(ShareArbiter::kMaxWeight) + ")");
    using Masks = std::pair<std::string_view, const std::vector<uint64_t>*>;
    for (const auto& [key, masks] : {Masks{"cpus", &sched.cpus_hard}, Masks{"cpus_soft", &sched.cpus_soft}}) {
        if (auto why = per_vcpu_problem(masks->size(), dc); !why.empty()) return invalid_value({key}, why);
        for (size_t i = 0; i < masks->size(); ++i)
            if ((*masks)[i] == 0)
                return invalid_value({key}, masks->size() == 1 ? std::string("the CPU mask is empty")
                                                               : "vCPU " + std::to_string(i) + "'s CPU mask is empty");
    }

    if (auto r = check_disks(dc); !r) return r;
    if (auto r = check_vifs(dc); !r) return r;

    // The key the command line came from: cmdline= wins, else extra= (with
    // root= before it), as build() puts it together.
    const std::initializer_list<std::string_view> cmdline_keys = {"cmdline", "extra", "root"};
    if (dc.cmdline.size() + 1 > boot::kCmdlineMax)
        return invalid_value(cmdline_keys, "the kernel command line is " + std::to_string(dc.cmdline.size()) +
                                               " bytes; at most " + std::to_string(boot::kCmdlineMax - 1) + " fit");
    if (dc.cmdline.find('\0') != std::string::npos)
        return invalid_value(cmdline_keys, "the kernel command line contains a NUL character");
    return {};
}

} // namespace hv::config
