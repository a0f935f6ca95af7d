// xl-disk-configuration(5) specs, read item by item in the order and with
// the precedence of libxlutil's flex lexer (libxlu_disk_l.l): target= takes
// the rest of the spec; a known legacy prefix ("tap:") is taken before the
// item it starts; "name:" followed by something that is not a letter or
// digit is an unknown prefix; keys and flags next; anything else fills the
// next free positional slot (target, format, vdev, access).
#include "config/disk_spec.hpp"
#include "config/vif_spec.hpp"

#include <array>
#include <utility>

#include "config/spec_text.hpp"

namespace hv::config {

namespace {


bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

constexpr std::array<std::pair<std::string_view, DiskFormat>, 6> formats{{
    {"raw", DiskFormat::raw},
    {"qcow", DiskFormat::qcow},
    {"qcow2", DiskFormat::qcow2},
    {"vhd", DiskFormat::vhd},
    {"qed", DiskFormat::qed},
    {"empty", DiskFormat::empty},
}};
constexpr std::array<std::pair<std::string_view, DiskBackendType>, 4> backend_types{{
    {"phy", DiskBackendType::phy},
    {"tap", DiskBackendType::tap},
    {"qdisk", DiskBackendType::qdisk},
    {"standalone", DiskBackendType::standalone},
}};
constexpr std::array<std::pair<std::string_view, DiskSpecification>, 2> specifications{{
    {"xen", DiskSpecification::xen},
    {"virtio", DiskSpecification::virtio},
}};

// The deprecated prefixes libxlutil knows (raw|qcow2?|vhd set the format,
// iscsi|e?nbd|drbd the script; the rest only say "legacy syntax").
constexpr std::string_view format_prefixes[] = {"raw", "qcow", "qcow2", "vhd"};
constexpr std::string_view script_prefixes[] = {"iscsi", "nbd", "enbd", "drbd"};
constexpr std::string_view plain_prefixes[] = {"tapdisk", "tap", "tap2", "aio", "ioemu", "file", "phy"};

template <class Range>
bool contains(const Range& names, std::string_view name) {
    for (std::string_view n : names)
        if (n == name) return true;
    return false;
}

class DiskParser {
public:
    explicit DiskParser(std::string_view spec) : spec_(spec) {}

    hv::Result<DiskSpec> run() {
        size_t pos = 0;
        for (;;) {
            while (pos < spec_.size() && std::string_view(" \t\r\n").find(spec_[pos]) != std::string_view::npos) ++pos;
            if (pos >= spec_.size()) break;
            const std::string_view rest = spec_.substr(pos);

            // target= eats the rest of the spec, commas included (less one
            // trailing comma), so a path with ',' or ':' can be given.
            if (const size_t eq = target_key_length(rest); eq > 0) {
                std::string_view value = trim_blanks(rest.substr(eq));
                if (!value.empty() && value.back() == ',') value.remove_suffix(1);
                if (auto r = save(target_, "target", trim_blanks(value), trim_blanks(rest)); !r) return r.error();
                break;
            }

            const size_t name_end = prefix_name_length(rest);
            if (name_end > 0) {
                const std::string_view name = rest.substr(0, name_end);
                const std::string_view with_colon = rest.substr(0, name_end + 1);
                const bool followed_by_word = name_end + 1 < rest.size() && is_lower_alnum(rest[name_end + 1]);
                if (contains(format_prefixes, name) || contains(script_prefixes, name) ||
                    contains(plain_prefixes, name)) {
                    if (auto r = legacy_prefix(name, with_colon); !r) return r.error();
                    pos += name_end + 1;
                    continue;
                }
                // "hdb:cdrom" is a vdev with its type; "foo:/x" or "foo:" an unknown prefix.
                if (!followed_by_word)
                    return fail(with_colon, "unknown legacy prefix (file, phy, tap, tap2, tapdisk, aio, ioemu, raw, "
                                            "qcow, qcow2, vhd, iscsi, nbd, enbd, drbd)");
            }

            const size_t comma = rest.find(',');
            const std::string_view item = trim_blanks(rest.substr(0, comma));
            pos += comma == std::string_view::npos ? rest.size() : comma + 1;
            if (auto r = parse_item(item); !r) return r.error();
        }
        return finish();
    }

private:
    hv::Error fail(std::string_view item, std::string_view problem) const {
        return hv::make_error(Errc::invalid_argument,
                              "'" + std::string(spec_) + "': '" + std::string(item) + "': " + std::string(problem));
    }
    hv::Error fail(std::string_view problem) const {
        return hv::make_error(Errc::invalid_argument, "'" + std::string(spec_) + "': " + std::string(problem));
    }

    // The length of "target =" at the start of `rest`, 0 when it is not there.
    static size_t target_key_length(std::string_view rest) {
        if (rest.substr(0, 6) != "target") return 0;
        size_t n = 6;
        while (n < rest.size() && (rest[n] == ' ' || rest[n] == '\t')) ++n;
        return n < rest.size() && rest[n] == '=' ? n + 1 : 0;
    }

    // The length of "name" in a "name:" at the start of `rest` (lowercase
    // letter, then letters and digits), 0 when there is none.
    static size_t prefix_name_length(std::string_view rest) {
        if (rest.empty() || rest[0] < 'a' || rest[0] > 'z') return 0;
        size_t n = 1;
        while (n < rest.size() && is_lower_alnum(rest[n])) ++n;
        return n < rest.size() && rest[n] == ':' ? n : 0;
    }

    // A string slot may be set once; an empty value may be overwritten
    // (libxlutil's savestring).
    hv::Result<void> save(std::optional<std::string>& slot, std::string_view what, std::string_view value,
                          std::string_view item) const {
        if (slot && !slot->empty()) return fail(item, std::string(what) + " given twice");
        slot = std::string(value);
        return {};
    }

    hv::Result<void> set_format(std::string_view value, std::string_view item) {
        DiskFormat f = DiskFormat::raw; // "" means raw
        if (!value.empty()) {
            bool known = false;
            for (const auto& [name, format] : formats)
                if (name == value) {
                    f = format;
                    known = true;
                }
            if (!known) return fail(item, "unknown format (raw, qcow, qcow2, vhd, qed, empty)");
        }
        if (format_ && *format_ != f) return fail(item, "format given twice");
        format_ = f;
        return {};
    }

    hv::Result<void> set_access(std::string_view value, std::string_view item) {
        if (value == "r" || value == "ro") disk_.read_only = true;
        else if (value == "rw" || value == "w" || value.empty()) disk_.read_only = false;
        else return fail(item, "unknown access (ro, r, rw, w)");
        return {};
    }

    template <class Enum, size_t N>
    hv::Result<void> set_enum(const std::array<std::pair<std::string_view, Enum>, N>& names, Enum& slot,
                              std::string_view what, std::string_view value, std::string_view item) const {
        for (const auto& [name, e] : names) {
            if (name != value) continue;
            if (slot != Enum{} && slot != e) return fail(item, std::string(what) + " given twice");
            slot = e;
            return {};
        }
        std::string choices;
        for (const auto& [name, e] : names) choices += (choices.empty() ? "" : ", ") + std::string(name);
        return fail(item, "unknown " + std::string(what) + " (" + choices + ")");
    }

    hv::Result<void> legacy_prefix(std::string_view name, std::string_view with_colon) {
        had_prefix_ = true;
        disk_.legacy_prefix += with_colon;
        if (contains(format_prefixes, name)) return set_format(name, with_colon);
        if (contains(script_prefixes, name)) return save(script_, "script", "block-" + std::string(name), with_colon);
        return {};
    }

    hv::Result<void> set_limit(std::string_view key, std::string_view value, std::string_view item) {
        const bool rate = key == "rate";
        std::string& text = rate ? disk_.rate : disk_.iops;
        if (!text.empty()) return fail(item, std::string(key) + " given twice");
        uint64_t& amount = rate ? disk_.rate_bytes_per_interval : disk_.iops_per_interval;
        uint32_t& interval = rate ? disk_.rate_interval_usecs : disk_.iops_interval_usecs;
        if (auto r = parse_disk_limit(key, value, amount, interval); !r) return fail(item, r.error().message);
        text = std::string(value);
        return {};
    }

    // "vdev:cdrom" / "vdev:disk" (the legacy way to give the type); false
    // when `value` has no ':'.
    hv::Result<bool> vdev_and_devtype(std::string_view value, std::string_view item) {
        const size_t colon = value.rfind(':');
        if (colon == std::string_view::npos) return false;
        if (auto r = save(vdev_, "vdev", trim_blanks(value.substr(0, colon)), item); !r) return r.error();
        const std::string_view type = trim_blanks(value.substr(colon + 1));
        if (type == "cdrom") disk_.devtype = DiskDevtype::cdrom;
        else if (type == "disk") disk_.devtype = DiskDevtype::disk;
        else return fail(item, "unknown device type after ':' (cdrom, disk)");
        return true;
    }

    hv::Result<void> parse_item(std::string_view item) {
        if (const size_t eq = item.find('='); eq != std::string_view::npos)
            return keyword(trim_blanks(item.substr(0, eq)), trim_blanks(item.substr(eq + 1)), item);
        if (item == "cdrom") disk_.devtype = DiskDevtype::cdrom;
        else if (item == "direct-io-safe") disk_.direct_io_safe = true;
        else if (item == "discard" || item == "no-discard") disk_.discard = item == "discard";
        else if (item == "trusted" || item == "untrusted") disk_.trusted = item == "trusted";
        else if (item == "colo" || item == "no-colo") return fail(item, "COLO disk replication is not supported");
        else return positional(item);
        return {};
    }

    hv::Result<void> keyword(std::string_view key, std::string_view value, std::string_view item) {
        if (key == "format") return set_format(value, item);
        if (key == "access") return set_access(value, item);
        if (key == "vdev") return save(vdev_, "vdev", value, item);
        if (key == "script") return save(script_, "script", value, item);
        if (key == "backend") return save(backend_, "backend", value, item);
        if (key == "backendtype") return set_enum(backend_types, disk_.backendtype, "backendtype", value, item);
        if (key == "specification")
            return set_enum(specifications, disk_.specification, "specification", value, item);
        if (key == "devtype") {
            if (value == "cdrom") disk_.devtype = DiskDevtype::cdrom;
            else if (value == "disk") disk_.devtype = DiskDevtype::disk;
            else return fail(item, "unknown devtype (disk, cdrom)");
            return {};
        }
        if (key == "grant_usage") {
            if (value != "0" && value != "1") return fail(item, "grant_usage is 0 or 1");
            disk_.grant_usage = value == "1";
            return {};
        }
        if (key == "rate" || key == "iops") return set_limit(key, value, item);
        if (key == "colo-host" || key == "colo-port" || key == "colo-export" || key == "active-disk" ||
            key == "hidden-disk")
            return fail(item, "COLO disk replication is not supported");
        bool name_like = !key.empty();
        for (char c : key)
            name_like = name_like && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                      c == '-' || c == '_');
        if (name_like)
            return fail(item, "unknown key (target, format, vdev, access, devtype, backend, backendtype, script, "
                              "specification, grant_usage, rate, iops)");
        return fail(item, "'=' in a positional parameter (a target with '=' needs target=, written last)");
    }

    // The next free slot of target, format, vdev, access. After a legacy
    // prefix the format slot is skipped (the prefix said it, or raw); with
    // an empty target the format slot may take "vdev:cdrom" instead.
    hv::Result<void> positional(std::string_view item) {
        if (!target_) return save(target_, "target", item, item);
        if (!had_prefix_ && !format_) {
            if (target_->empty()) {
                auto typed = vdev_and_devtype(item, item);
                if (!typed) return typed.error();
                if (*typed) {
                    format_ = DiskFormat::empty;
                    return {};
                }
            }
            return set_format(item, item);
        }
        if (!vdev_) {
            auto typed = vdev_and_devtype(item, item);
            if (!typed) return typed.error();
            if (!*typed) return save(vdev_, "vdev", item, item);
            return {};
        }
        if (!access_set_) {
            access_set_ = true;
            return set_access(item, item);
        }
        return fail(item, "too many positional parameters (target, format, vdev, access)");
    }

    hv::Result<DiskSpec> finish() {
        disk_.target = target_.value_or("");
        disk_.vdev = vdev_.value_or("");
        disk_.script = script_.value_or("");
        disk_.backend = backend_.value_or("");
        disk_.format = format_.value_or(DiskFormat::raw);
        const bool cdrom = disk_.devtype == DiskDevtype::cdrom;
        if (cdrom) {
            disk_.read_only = true;
            if (disk_.target.empty()) disk_.format = DiskFormat::empty;
        }
        if (disk_.vdev.empty()) return fail("no vdev given");
        if (disk_.target.empty() && !cdrom) return fail("no target given (only a cdrom may have none)");
        return std::move(disk_);
    }

    std::string_view spec_;
    DiskSpec disk_;
    // Unset and empty differ here, as libxlutil's NULL and "" do: an empty
    // positional ("/img,,hda") fills its slot.
    std::optional<std::string> target_, vdev_, script_, backend_;
    std::optional<DiskFormat> format_;
    bool had_prefix_ = false;
    bool access_set_ = false;
};

} // namespace

hv::Result<DiskSpec> parse_disk_spec(std::string_view spec) { return DiskParser(spec).run(); }

// rate= in vif rate='s grammar (one parser); iops= is the same grammar
// with a bare count of requests for the amount.
hv::Result<void> parse_disk_limit(std::string_view key, std::string_view value, uint64_t& amount,
                                  uint32_t& interval_usecs) {
    const bool rate = key == "rate";
    std::string as_rate(value);
    if (!rate) {
        const size_t at = value.find('@');
        const std::string_view count = value.substr(0, at);
        if (count.empty() || count.find_first_not_of("0123456789") != std::string_view::npos)
            return hv::make_error(Errc::invalid_argument,
                                  "iops is a number of requests a second, optionally @INTERVAL (500, 2000@20ms)");
        as_rate = std::string(count) + "B/s" + std::string(at == std::string_view::npos ? "" : value.substr(at));
    }
    std::string problem;
    if (!parse_vif_rate(as_rate, amount, interval_usecs, problem)) return hv::make_error(Errc::invalid_argument, problem);
    if (amount == 0)
        return hv::make_error(Errc::invalid_argument,
                              std::string(key) + " is less than one " + (rate ? "byte" : "request") + " per interval");
    return {};
}

const char* disk_format_name(DiskFormat f) {
    for (const auto& [name, format] : formats)
        if (format == f) return name.data();
    return "";
}

const char* disk_devtype_name(DiskDevtype d) { return d == DiskDevtype::cdrom ? "cdrom" : "disk"; }

const char* disk_backend_type_name(DiskBackendType b) {
    for (const auto& [name, type] : backend_types)
        if (type == b) return name.data();
    return "";
}

const char* disk_specification_name(DiskSpecification s) {
    for (const auto& [name, spec] : specifications)
        if (spec == s) return name.data();
    return "";
}

} // namespace hv::config
