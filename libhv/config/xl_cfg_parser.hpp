// The generic xl.cfg(5) syntax, modelled on Xen's libxlutil (libxlu_cfg_l.l
// and libxlu_cfg_y.y): what a domain config file says, before anyone decides
// what the keys mean (that is domain_config_loader.hpp's job).
//
//   # comment to end of line
//   name = "guest"; memory = 0x100          settings end at a newline or ';'
//   extra = 'console=hvc0\tquiet'          single or double quotes, C escapes
//   disk = [ 'file:/a.img,xvda,w',         lists span lines; trailing comma ok
//            'file:/b.img,xvdb,w', ]
//   extra += " debug"                      appends to a string or a list
//
// A key set twice keeps its first position and takes the last value (xl's
// "last one wins").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hv/result.hpp"

namespace hv::config {

// Where something was written. Columns count bytes from 1 (a tab is one).
struct CfgLocation {
    std::string source; // file name, or "override N" for a command-line KEY=VALUE
    uint32_t line = 0;
    uint32_t column = 0;

    std::string str() const; // "source:line:column"
};

struct CfgValue {
    enum class Kind : uint8_t { string, number, list };

    Kind kind = Kind::string;
    std::string text;            // string: dequoted text; number: as written ("0x10")
    uint64_t number = 0;         // number: its value
    std::vector<CfgValue> items; // list: strings and numbers, never lists
    CfgLocation where;           // first character of the value
};

struct CfgSetting {
    std::string key;
    CfgValue value;
    CfgLocation where; // the key of the assignment that last set it
};

struct XlCfg {
    std::vector<CfgSetting> settings; // in order of first appearance

    const CfgSetting* find(std::string_view key) const;
};

struct XlCfgOptions {
    // xl create's KEY=VALUE overrides are typed on a shell command line, so an
    // unquoted value there (extra=console=hvc0) is taken as a string: it runs
    // to the end of the line, ';' or '#' (or ',' / ']' inside a list). A bare
    // value that is a valid number stays a number.
    bool bare_words = false;
};

// Parses `text` and merges its settings into `cfg`, so command-line overrides
// can be applied after a file. On error `cfg` is left unchanged and the error
// is Errc::parse_error "source:line:column: key: what is wrong".
hv::Result<void> parse_xl_cfg_into(XlCfg& cfg, std::string_view text, std::string_view source,
                                   const XlCfgOptions& options = {});

hv::Result<XlCfg> parse_xl_cfg(std::string_view text, std::string_view source, const XlCfgOptions& options = {});

// xl's number forms (xl.cfg(5) "NUMBER"): decimal, 0x hexadecimal, or octal
// with a leading 0. The whole text must be the number; false when it is not
// or when it does not fit 64 bits.
bool parse_cfg_number(std::string_view text, uint64_t& out);

} // namespace hv::config
