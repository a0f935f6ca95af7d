// xl CPU lists -> CPU masks, and back.
#include "config/cpu_list.hpp"

#include <charconv>
#include <system_error>

#include "config/spec_text.hpp"

namespace hv::config {

namespace {

// Text as a message may show it: non-printable bytes as \xHH, at most 64
// characters of it.
std::string show(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < text.size() && i < 64; ++i) {
        const auto u = static_cast<unsigned char>(text[i]);
        if (u >= 0x20 && u < 0x7f) {
            out += text[i];
        } else {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        }
    }
    return text.size() > 64 ? out + "..." : out;
}

std::string quoted(std::string_view text) { return "'" + show(text) + "'"; }

hv::Error bad(std::string message) { return hv::make_error(Errc::invalid_argument, std::move(message)); }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// A whole decimal number (digits only); false when `text` is not one.
// `fits` is false when it is one but does not fit 32 bits.
bool parse_cpu_number(std::string_view text, uint32_t& out, bool& fits) {
    if (text.empty() || text[0] < '0' || text[0] > '9') return false;
    const char* end = text.data() + text.size();
    // On overflow from_chars still takes every digit, so ptr == end.
    const auto [ptr, ec] = std::from_chars(text.data(), end, out, 10);
    if (ptr != end) return false;
    fits = ec != std::errc::result_out_of_range;
    return true;
}

uint64_t below(uint32_t limit) { return limit >= 64 ? ~uint64_t{0} : (uint64_t{1} << limit) - 1; }

// The CPUs of one item (without its '^'), or the error naming `item`.
hv::Result<uint64_t> item_cpus(std::string_view item, std::string_view cpus, uint32_t limit) {
    const auto range = [&] { return "valid CPUs are 0.." + std::to_string(limit - 1); };
    if (cpus == "all") return below(limit);
    const size_t dash = cpus.find('-');
    const std::string_view first = trim_blanks(cpus.substr(0, dash));
    uint32_t lo = 0, hi = 0;
    bool lo_fits = true, hi_fits = true;
    if (!parse_cpu_number(first, lo, lo_fits)) return bad(quoted(item) + " is not a CPU number or range");
    if (dash == std::string_view::npos) {
        if (!lo_fits || lo >= limit) return bad(quoted(item) + " is not a CPU: " + range());
        return uint64_t{1} << lo;
    }
    if (!parse_cpu_number(trim_blanks(cpus.substr(dash + 1)), hi, hi_fits))
        return bad(quoted(item) + " is not a CPU number or range");
    if (!lo_fits || !hi_fits || lo >= limit || hi >= limit)
        return bad(quoted(item) + " is not a CPU range: " + range());
    if (hi < lo) return bad(quoted(item) + ": range goes backwards");
    // hi < limit <= 64: bits lo..hi.
    return below(hi + 1) & ~below(lo);
}

} // namespace

hv::Result<uint64_t> parse_cpu_list(std::string_view text, uint32_t limit) {
    if (limit == 0 || limit > kMaxCpuListCpus)
        return bad("a CPU limit of " + std::to_string(limit) + " is outside 1.." + std::to_string(kMaxCpuListCpus));
    if (text.size() > kMaxCpuListBytes)
        return bad("the CPU list is " + std::to_string(text.size()) + " bytes; at most " +
                   std::to_string(kMaxCpuListBytes) + " are read");
    if (trim_blanks(text).empty()) return bad("empty CPU list");

    uint64_t included = 0, excluded = 0;
    size_t items = 0;
    for (size_t start = 0; start <= text.size();) {
        const size_t comma = text.find(',', start);
        const size_t stop = comma == std::string_view::npos ? text.size() : comma;
        const std::string_view item = trim_blanks(text.substr(start, stop - start));
        start = stop + 1;
        if (++items > kMaxCpuListItems)
            return bad("the CPU list has more than " + std::to_string(kMaxCpuListItems) + " items");
        if (item.empty()) return bad(quoted(trim_blanks(text)) + ": empty item");

        const bool exclude = item[0] == '^';
        const std::string_view cpus = exclude ? trim_blanks(item.substr(1)) : item;
        if (starts_with(cpus, "node:") || starts_with(cpus, "nodes:"))
            return hv::make_error(Errc::not_supported, quoted(item) + ": " + std::string(kNumaNotSupported));
        if (exclude && cpus == "all") return bad(quoted(item) + ": cannot exclude every CPU");
        auto mask = item_cpus(item, cpus, limit);
        if (!mask) return mask.error();
        (exclude ? excluded : included) |= *mask;
    }
    const uint64_t mask = included & ~excluded;
    if (mask == 0) return bad(quoted(trim_blanks(text)) + " leaves no CPU");
    return mask;
}

std::string format_cpu_list(uint64_t mask) {
    std::string out;
    for (uint32_t cpu = 0; cpu < 64;) {
        if (((mask >> cpu) & 1u) == 0) {
            ++cpu;
            continue;
        }
        uint32_t last = cpu;
        while (last + 1 < 64 && ((mask >> (last + 1)) & 1u) != 0) ++last;
        if (!out.empty()) out += ',';
        out += std::to_string(cpu);
        if (last != cpu) out += "-" + std::to_string(last);
        cpu = last + 1;
    }
    return out;
}

hv::Result<CpuAffinity> parse_cpu_affinity(const CfgSetting& setting, uint32_t limit) {
    CpuAffinity out;
    const auto one = [&](const CfgValue& v) -> hv::Result<void> {
        auto mask = parse_cpu_list(v.text, limit);
        if (!mask)
            return hv::make_error(mask.error().code, v.where.str() + ": " + setting.key + ": " + mask.error().message);
        out.masks.push_back(*mask);
        return {};
    };
    if (setting.value.kind != CfgValue::Kind::list) {
        if (auto r = one(setting.value); !r) return r.error();
        return out;
    }
    out.per_vcpu = true;
    out.masks.reserve(setting.value.items.size());
    for (const CfgValue& item : setting.value.items)
        if (auto r = one(item); !r) return r.error();
    return out;
}

} // namespace hv::config
