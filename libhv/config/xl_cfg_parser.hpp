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
//
// Where we differ from libxlutil (4.17), on purpose; tests/config-diff
// compares the two over tests/config-corpus, which leaves these out:
//  - errors give line:column and stop at the first (libxlutil: "config
//    parsing error near ..." with a line, and goes on);
//  - \xHH and \OOO escapes are decoded (libxlutil refuses "\x41" and turns
//    "\101" into nothing); an escape that makes a NUL is refused;
//  - '\r' is a blank, so CRLF files read (libxlutil: lexical error);
//  - keys are [A-Za-z_][A-Za-z0-9_]* (libxlutil: [a-z][._0-9a-z]*, so it
//    refuses "Name" and "_x" and takes "a.b");
//  - a bare number must be a whole decimal, 0x/0X hex (either case) or
//    0-octal number of at most 64 bits (libxlutil lexes "1e3", "12ab",
//    "08" and "0x" as numbers kept as text, refuses "0x1F", and leaves
//    "99999999999999999999" to fail later as out of range);
//  - '+=' with a number on either side is refused (libxlutil concatenates
//    the text: x = 1; x += "2" gives "12");
//  - nested lists are refused (libxlutil takes [[1]] and its items then
//    read as not strings).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hv/result.hpp"

namespace hv::config {

// What one config may hold. A config is untrusted input (hvd reads the ones
// its members send), so reading one costs time and memory linear in its
// text, and anything beyond these limits is refused with
// "source:line:column: key: ..." naming the limit:
//  - kMaxCfgTextBytes: one text (a file, or one override) is at most 1 MiB;
//  - kMaxCfgSettings: at most 1,024 distinct keys in a config, the file and
//    its overrides together (xl.cfg(5) knows about 150);
//  - kMaxCfgKeyBytes: a key is at most 128 characters (the longest xl key
//    is 32);
//  - kMaxCfgListItems: a list holds at most 4,096 items, '+=' included;
//  - kMaxCfgItems: the lists of a config hold at most 16,384 items in all
//    (so what a config reads into stays within a few MiB: a list item costs
//    about 100 bytes however short its text);
//  - kMaxCfgStringBytes: a string (quoted, or an override's bare word, or
//    one built with '+=') is at most 64 KiB;
//  - nesting: a value is a string, a number or a list of those (depth 1);
//    a list inside a list is refused.
inline constexpr size_t kMaxCfgTextBytes = size_t{1} << 20;
inline constexpr size_t kMaxCfgSettings = 1024;
inline constexpr size_t kMaxCfgKeyBytes = 128;
inline constexpr size_t kMaxCfgListItems = 4096;
inline constexpr size_t kMaxCfgItems = 16384;
inline constexpr size_t kMaxCfgStringBytes = size_t{64} << 10;

// Where something was written. Columns count bytes from 1 (a tab is one).
// Every location in one text shares one copy of its source name.
struct CfgLocation {
    std::shared_ptr<const std::string> source; // file name, or "override N" for a command-line KEY=VALUE
    uint32_t line = 0;
    uint32_t column = 0;

    std::string_view source_name() const { return source ? std::string_view(*source) : std::string_view(); }
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
    CfgLocation where;     // the key of the assignment that last set it
    bool appended = false; // last set with '+=' (libxlutil then refuses to read it as a number)
};

struct XlCfgOptions {
    // xl create's KEY=VALUE overrides are typed on a shell command line, so an
    // unquoted value there (extra=console=hvc0) is taken as a string: it runs
    // to the end of the line, ';' or '#' (or ',' / ']' inside a list). A bare
    // value that is a valid number stays a number.
    bool bare_words = false;
};

struct XlCfg;

// Parses `text` and merges its settings into `cfg`, so command-line overrides
// can be applied after a file. On error `cfg` is left unchanged and the error
// is Errc::parse_error "source:line:column: key: what is wrong". Costs time
// and memory linear in `text` (plus a logarithmic key lookup), whatever
// `cfg` already holds.
hv::Result<void> parse_xl_cfg_into(XlCfg& cfg, std::string_view text, std::string_view source,
                                   const XlCfgOptions& options = {});

struct XlCfg {
    // In order of first appearance. Read it; change it only through
    // parse_xl_cfg_into, which keeps find()'s index.
    std::vector<CfgSetting> settings;

    const CfgSetting* find(std::string_view key) const; // O(log n)
    size_t list_items() const { return items_; }         // in all the lists (kMaxCfgItems)

private:
    friend hv::Result<void> parse_xl_cfg_into(XlCfg&, std::string_view, std::string_view, const XlCfgOptions&);
    size_t items_ = 0;
    // key -> position in settings. A tree, not a hash table: no crafted set
    // of colliding keys can make lookups slow.
    std::map<std::string, size_t, std::less<>> index_;
};

hv::Result<XlCfg> parse_xl_cfg(std::string_view text, std::string_view source, const XlCfgOptions& options = {});

// xl's number forms (xl.cfg(5) "NUMBER"): decimal, 0x hexadecimal, or octal
// with a leading 0. The whole text must be the number; false when it is not
// or when it does not fit 64 bits.
bool parse_cfg_number(std::string_view text, uint64_t& out);

} // namespace hv::config
