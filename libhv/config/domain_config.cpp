// xl.cfg(5) keys -> DomainConfig. Keys hv acts on are checked here; keys xl
// knows but hv does not do yet, and keys nobody knows, are kept in
// DomainConfig::unsupported (xl ignores unknown keys silently; we say so).
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "config/domain_config.hpp"
#include "config/domain_config_loader.hpp"
#include "config/xl_cfg_parser.hpp"

namespace hv::config {

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

constexpr uint64_t max_vcpus = 128;
constexpr uint64_t max_memory_mib = UINT64_MAX >> 20; // so the size in bytes fits 64 bits
constexpr size_t max_name_length = 63;
constexpr size_t max_file_size = 1 << 20;

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
    {"builder", Check::string}, {"cap", Check::number}, {"channel", Check::strings},
    {"claim_mode", Check::number}, {"cpu_weight", Check::number}, {"cpuid", Check::strings},
    {"cpus", Check::any}, {"cpus_soft", Check::any}, {"device_model", Check::string},
    {"device_model_args", Check::strings}, {"device_model_override", Check::string},
    {"device_model_stubdomain_override", Check::number}, {"device_model_user", Check::string},
    {"device_model_version", Check::string}, {"disk", Check::strings}, {"dm_restrict", Check::number},
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
    {"vfb", Check::strings}, {"vga", Check::string}, {"videoram", Check::number}, {"vif", Check::strings},
    {"viridian", Check::any}, {"vkb", Check::strings}, {"vnc", Check::number}, {"vncdisplay", Check::number},
    {"vnclisten", Check::string}, {"vncpasswd", Check::string}, {"vncunused", Check::number},
    {"vtpm", Check::strings}, {"xen_platform_pci", Check::number},
};

const KnownKey* find_known(std::string_view key) {
    for (const KnownKey& k : not_yet)
        if (k.name == key) return &k;
    return nullptr;
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

std::string check_name(const std::string& name) {
    if (name.empty()) return "must not be empty";
    if (name.size() > max_name_length) return "longer than 63 characters";
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '.' || c == '-';
        if (!ok) return "'" + name + "' may only use letters, digits, '_', '.' and '-'";
    }
    return {};
}

// Turns the merged settings into a DomainConfig. `base_dir` (may be empty)
// resolves relative paths set in `source` itself.
hv::Result<DomainConfig> build(const XlCfg& cfg, std::string_view source, const std::string& base_dir) {
    DomainConfig dc;
    dc.source = std::string(source);
    const CfgSetting *kernel = nullptr, *ramdisk = nullptr, *maxmem = nullptr, *maxvcpus = nullptr;
    std::string root, extra, cmdline;
    auto note = [&](const CfgSetting& s, std::string why) {
        dc.unsupported.push_back(Unsupported{s.key, s.where.str(), std::move(why)});
    };

    for (const CfgSetting& s : cfg.settings) {
        const std::string& key = s.key;
        if (key == "name" || key == "uuid" || key == "kernel" || key == "ramdisk" || key == "root" ||
            key == "extra" || key == "cmdline") {
            auto text = get_string(s);
            if (!text) return text.error();
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
                if (!text->empty()) {
                    ramdisk = &s;
                    note(s, "ramdisk not loaded yet");
                }
            } else {
                (key == "root" ? root : key == "extra" ? extra : cmdline) = *text;
                // xl: cmdline= wins over root= and extra=, with a warning.
                if (key != "cmdline" && cfg.find("cmdline")) note(s, "ignored: cmdline= is set (as xl)");
            }
        } else if (key == "memory" || key == "maxmem") {
            auto mib = get_number(s, 1, max_memory_mib);
            if (!mib) return mib.error();
            (key == "memory" ? dc.memory_mib : dc.maxmem_mib) = *mib;
            if (key == "maxmem") maxmem = &s;
        } else if (key == "vcpus" || key == "maxvcpus" || key == "maxvcpu") {
            auto n = get_number(s, 1, max_vcpus);
            if (!n) return n.error();
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
        } else if (const KnownKey* known = find_known(key)) {
            if (auto checked = check_value(s, known->check); !checked) return checked.error();
            if (key == "disk" || key == "vif") {
                auto parsed = key == "disk" ? parse_specs(s, dc.disks, parse_disk_spec)
                                            : parse_specs(s, dc.vifs, parse_vif_spec);
                if (!parsed) return parsed.error();
            }
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

    // Relative paths in a file mean "next to this file"; an override's are
    // the caller's (relative to its working directory).
    for (auto [setting, path] : {std::pair{kernel, &dc.kernel}, std::pair{ramdisk, &dc.ramdisk}}) {
        if (setting && !base_dir.empty() && setting->where.source == dc.source &&
            std::filesystem::path(*path).is_relative())
            *path = (std::filesystem::path(base_dir) / *path).string();
    }
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
            return hv::make_error(Errc::io_error, path + ": larger than 1 MiB, not a domain config");
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

} // namespace hv::config
