// hv_cfg_dump: reads an xl.cfg(5) file with hv's parser (parse_xl_cfg,
// parse_disk_spec, parse_vif_spec) and prints the canonical dump described
// in xlu_dump.c, which prints the same from Xen's libxlutil.
#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/disk_spec.hpp"
#include "config/vif_spec.hpp"
#include "config/xl_cfg_parser.hpp"

namespace {

using hv::config::CfgSetting;
using hv::config::CfgValue;

std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c >= 0x20 && c < 0x7f) {
            out += ch;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out + "\"";
}

// What libxlutil keeps for a scalar: its text as written; and the number
// xlu_cfg_get_long would read from it (never from text built with '+=').
void dump_scalar(const CfgSetting& s) {
    std::printf("%s = %s\n", s.key.c_str(), quoted(s.value.text).c_str());
    uint64_t n = 0;
    const bool number = s.value.kind == CfgValue::Kind::number ? (n = s.value.number, true)
                                                               : hv::config::parse_cfg_number(s.value.text, n);
    if (number && !s.appended && n <= static_cast<uint64_t>(LONG_MAX))
        std::printf("%s long %" PRIu64 "\n", s.key.c_str(), n);
}

void dump_disk(size_t i, const std::string& spec) {
    auto r = hv::config::parse_disk_spec(spec);
    if (!r) {
        std::printf("disk[%zu]: error\n", i);
        return;
    }
    const hv::config::DiskSpec& d = *r;
    const auto named = [](const char* name) { return *name ? name : "unknown"; };
    std::printf("disk[%zu]: target=%s format=%s vdev=%s access=%s devtype=%s backendtype=%s backend=%s script=%s "
                "specification=%s direct_io_safe=%d discard=%s\n",
                i, quoted(d.target).c_str(), hv::config::disk_format_name(d.format), quoted(d.vdev).c_str(),
                d.read_only ? "ro" : "rw", hv::config::disk_devtype_name(d.devtype),
                named(hv::config::disk_backend_type_name(d.backendtype)), quoted(d.backend).c_str(),
                quoted(d.script).c_str(), named(hv::config::disk_specification_name(d.specification)),
                d.direct_io_safe ? 1 : 0, !d.discard ? "default" : *d.discard ? "true" : "false");
}

void dump_vif(size_t i, const std::string& spec) {
    auto r = hv::config::parse_vif_spec(spec);
    if (!r) {
        std::printf("vif[%zu]: error\n", i);
        return;
    }
    if (!r->rate.empty())
        std::printf("vif[%zu] rate: bytes_per_interval=%" PRIu64 " interval_usecs=%u\n", i,
                    r->rate_bytes_per_interval, r->rate_interval_usecs);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s FILE.cfg\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "%s: cannot open\n", argv[1]);
        return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto cfg = hv::config::parse_xl_cfg(text.str(), argv[1]);
    if (!cfg) {
        std::printf("parse: error\n");
        std::fprintf(stderr, "%s\n", cfg.error().message.c_str());
        return 0;
    }
    std::printf("parse: ok\n");

    std::vector<const CfgSetting*> settings;
    for (const CfgSetting& s : cfg->settings) settings.push_back(&s);
    std::sort(settings.begin(), settings.end(),
              [](const CfgSetting* a, const CfgSetting* b) { return a->key < b->key; });
    for (const CfgSetting* s : settings) {
        if (s->value.kind != CfgValue::Kind::list) {
            dump_scalar(*s);
            continue;
        }
        const std::vector<CfgValue>& items = s->value.items;
        std::printf("%s = list %zu\n", s->key.c_str(), items.size());
        for (size_t i = 0; i < items.size(); ++i)
            std::printf("%s[%zu] = %s\n", s->key.c_str(), i, quoted(items[i].text).c_str());
        for (size_t i = 0; i < items.size(); ++i) {
            if (s->key == "disk") dump_disk(i, items[i].text);
            if (s->key == "vif") dump_vif(i, items[i].text);
        }
    }
    return 0;
}
