// xl.cfg(5) syntax: a tokenizer and a recursive-descent parser that follow
// libxlutil's grammar (file: stmts; stmt: KEY ('='|'+=') value (NL|';');
// value: atom | '[' atoms ']'), with exact line:column in every error
// instead of libxlutil's "config parsing error near ...".
//
// Linear in the text: each token is read once, locations share one copy of
// the source name, keys are found through XlCfg's index, and a text's
// statements are checked as they are read and merged into the config only
// once all of them are good (no copy of the config per call).
#include "config/xl_cfg_parser.hpp"

#include <optional>
#include <utility>

namespace hv::config {

std::string CfgLocation::str() const {
    return std::string(source_name()) + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const CfgSetting* XlCfg::find(std::string_view key) const {
    const auto it = index_.find(key);
    return it == index_.end() ? nullptr : &settings[it->second];
}

bool parse_cfg_number(std::string_view text, uint64_t& out) {
    uint64_t base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    } else if (text.size() > 1 && text[0] == '0') {
        base = 8; // xl reads numbers with strtol(..., 0): a leading 0 means octal
        text.remove_prefix(1);
    }
    if (text.empty()) return false;
    uint64_t value = 0;
    for (char c : text) {
        uint64_t digit = 0;
        if (c >= '0' && c <= '9') digit = static_cast<uint64_t>(c - '0');
        else if (c >= 'a' && c <= 'f') digit = static_cast<uint64_t>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') digit = static_cast<uint64_t>(c - 'A' + 10);
        else return false;
        if (digit >= base || value > (UINT64_MAX - digit) / base) return false;
        value = value * base + digit;
    }
    out = value;
    return true;
}

namespace {

// Punctuation first: describe() names them by position.
enum class Tok : uint8_t { end, newline, semicolon, equals, plus_equals, comma, lbracket, rbracket, ident, string, number, error };

struct Token {
    Tok kind = Tok::end;
    std::string text; // ident spelling, dequoted string, number as written, or the error message
    uint64_t number = 0;
    uint32_t line = 1;
    uint32_t column = 1;
};

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

// 'c' for printable ASCII, '\xHH' otherwise, so a stray byte shows in a message.
std::string show_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
    static constexpr char hex[] = "0123456789abcdef";
    return std::string("'\\x") + hex[u >> 4] + hex[u & 0xf] + "'";
}

// At most 24 bytes of `text`, so a long token cannot make a long message.
std::string clip(std::string_view text) {
    return text.size() > 24 ? std::string(text.substr(0, 24)) + "..." : std::string(text);
}

std::string describe(const Token& t) {
    static constexpr const char* punctuation[] = {"end of input", "end of line", "';'", "'='",
                                                  "'+='",         "','",         "'['", "']'"};
    if (t.kind <= Tok::rbracket) return punctuation[static_cast<size_t>(t.kind)];
    if (t.kind == Tok::ident) return "word '" + clip(t.text) + "'";
    if (t.kind == Tok::number) return "number " + clip(t.text);
    if (t.kind == Tok::string) return "string \"" + clip(t.text) + "\"";
    return t.text; // an error's message
}

std::string string_too_long() {
    return "string longer than " + std::to_string(kMaxCfgStringBytes) + " bytes (a config string holds at most " +
           std::to_string(kMaxCfgStringBytes >> 10) + " KiB)";
}

class Tokenizer {
public:
    Tokenizer(std::string_view text, bool bare_words) : text_(text), bare_words_(bare_words) {}

    // value: a value may start here, so an override's bare word is read;
    // in_list: ',' and ']' also end a bare word.
    Token next(bool value = false, bool in_list = false) {
        skip_blanks();
        Token t;
        t.line = line_;
        t.column = column_;
        if (at_end()) return t;
        const char c = peek();
        static constexpr std::string_view punct = "\n;=,[]";
        static constexpr Tok punct_kind[] = {Tok::newline, Tok::semicolon, Tok::equals,
                                             Tok::comma,   Tok::lbracket,  Tok::rbracket};
        if (const size_t k = punct.find(c); k != std::string_view::npos) return single(t, punct_kind[k]);
        if (c == '"' || c == '\'') return quoted(t, c);
        if (c == '+' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '=') {
            advance();
            return single(t, Tok::plus_equals);
        }
        if (value && bare_words_) return bare_word(t, in_list);
        if (is_digit(c)) return number(t);
        if (is_ident_start(c)) {
            // Past the key limit the rest is skipped, not stored: the parser
            // refuses the key by its length.
            while (!at_end() && is_ident_char(peek())) {
                const char k = take();
                if (t.text.size() <= kMaxCfgKeyBytes) t.text += k;
            }
            t.kind = Tok::ident;
            return t;
        }
        return error(t, "unexpected character " + show_char(c));
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }
    void advance() {
        if (text_[pos_++] == '\n') {
            ++line_;
            column_ = 1;
        } else {
            ++column_;
        }
    }
    char take() {
        const char c = peek();
        advance();
        return c;
    }

    // Blanks and comments; '\r' is a blank so CRLF files read like LF ones
    // (libxlutil rejects them with a lexical error).
    void skip_blanks() {
        while (!at_end()) {
            const char c = peek();
            if (c == ' ' || c == '\t' || c == '\r') {
                advance();
            } else if (c == '#') {
                while (!at_end() && peek() != '\n') advance(); // the newline still ends the setting
            } else {
                return;
            }
        }
    }

    Token single(Token t, Tok kind) {
        advance();
        t.kind = kind;
        return t;
    }

    static Token error(Token t, std::string message) {
        t.kind = Tok::error;
        t.text = std::move(message);
        return t;
    }

    // A NUL byte in the text itself, which C strings (and libxlutil) would
    // silently cut at.
    static Token nul_character(Token t) { return error(std::move(t), "NUL character in string"); }

    // A run of letters and digits, so "128M" or "1e3" is one bad number rather
    // than a number followed by a puzzling word.
    Token number(Token t) {
        while (!at_end() && is_ident_char(peek())) t.text += take();
        if (!parse_cfg_number(t.text, t.number))
            return error(t, "bad number '" + clip(t.text) + "' (decimal, 0x hex or 0 octal, at most 64 bits)");
        t.kind = Tok::number;
        return t;
    }

    Token bare_word(Token t, bool in_list) {
        while (!at_end()) {
            const char c = peek();
            if (c == '\n' || c == ';' || c == '#' || (in_list && (c == ',' || c == ']'))) break;
            if (c == '\0') return nul_character(t);
            t.text += take();
            if (t.text.size() > kMaxCfgStringBytes) return error(t, string_too_long());
        }
        while (!t.text.empty() && (t.text.back() == ' ' || t.text.back() == '\t' || t.text.back() == '\r'))
            t.text.pop_back();
        t.kind = parse_cfg_number(t.text, t.number) ? Tok::number : Tok::string;
        return t;
    }

    // Both quote kinds take the same backslash escapes: libxlutil dequotes
    // '...' and "..." alike. A string cannot span lines.
    Token quoted(Token t, char quote) {
        advance();
        while (!at_end() && peek() != '\n') {
            Token at; // this character, for an escape's error
            at.line = line_;
            at.column = column_;
            const char c = take();
            if (c == quote) {
                t.kind = Tok::string;
                return t;
            }
            if (t.text.size() == kMaxCfgStringBytes) return error(t, string_too_long());
            if (c == '\0') return nul_character(at);
            if (c != '\\') {
                t.text += c;
                continue;
            }
            if (at_end() || peek() == '\n') break;
            std::string problem;
            t.text += escape(take(), problem);
            if (!problem.empty()) return error(at, problem);
        }
        return error(t, std::string("unterminated string (no closing ") + quote + ")");
    }

    // The character after a backslash (and any digits after it) as one
    // char; sets `problem` when the escape is malformed. libxlutil refuses
    // unknown escapes too, but mis-reads \x and octal ones; we decode them.
    char escape(char e, std::string& problem) {
        static constexpr std::string_view simple = "\"'\\abfnrtv", meaning = "\"'\\\a\b\f\n\r\t\v";
        if (const size_t k = simple.find(e); k != std::string_view::npos) return meaning[k];
        unsigned value = 0;
        if (e == 'x') {
            for (int i = 0; i < 2; ++i) {
                const char h = at_end() ? '\0' : peek();
                uint64_t d = 0;
                if (!is_ident_char(h) || !parse_cfg_number(std::string("0x") + h, d)) {
                    problem = "bad \\x escape (needs two hex digits)";
                    return 0;
                }
                advance();
                value = value * 16 + static_cast<unsigned>(d);
            }
        } else if (e >= '0' && e <= '7') {
            value = static_cast<unsigned>(e - '0');
            for (int i = 0; i < 2 && !at_end() && peek() >= '0' && peek() <= '7'; ++i)
                value = value * 8 + static_cast<unsigned>(take() - '0');
            if (value > 0xff) problem = "octal escape out of range (max \\377)";
        } else {
            problem = "unknown escape '\\" + std::string(1, e) + "' in string";
        }
        if (problem.empty() && value == 0) problem = "escape makes a NUL character";
        return static_cast<char>(static_cast<unsigned char>(value));
    }

    std::string_view text_;
    bool bare_words_;
    size_t pos_ = 0;
    uint32_t line_ = 1;
    uint32_t column_ = 1;
};

// What a key holds once a text's statements so far are merged: enough to
// check the next '+=' and the limits.
struct Shape {
    CfgValue::Kind kind = CfgValue::Kind::string;
    size_t items = 0;
    size_t text = 0;
    CfgLocation where; // the assignment that last set it
};

Shape shape_of(const CfgSetting& s) { return Shape{s.value.kind, s.value.items.size(), s.value.text.size(), s.where}; }

// A text's net change to one key, checked, not yet merged: what its
// statements leave, so a key set a thousand times holds one value here.
struct Pending {
    CfgSetting setting; // the key's new setting; or, when !replace, what '+=' adds to the config's
    bool replace = true;
    Shape shape; // the key after the merge
};
using PendingMap = std::map<std::string, Pending, std::less<>>;

struct Changes {
    PendingMap keys;
    std::vector<PendingMap::iterator> added; // keys the config does not have, in order of appearance
    size_t items = 0;                        // list items in the config once merged
};

// '+=' on a value of the same kind (string or list), already checked.
void append_value(CfgValue& to, CfgValue&& add) {
    if (add.kind == CfgValue::Kind::string) to.text += add.text;
    for (CfgValue& item : add.items) to.items.push_back(std::move(item));
}

class Parser {
public:
    Parser(const XlCfg& cfg, std::string_view text, std::string_view source, const XlCfgOptions& options)
        : cfg_(cfg), tokens_(text, options.bare_words), source_(std::make_shared<const std::string>(source)) {
        changes_.items = cfg.list_items();
    }

    hv::Result<Changes> run() {
        for (;;) {
            Token t = tokens_.next();
            if (t.kind == Tok::end) return std::move(changes_);
            if (t.kind == Tok::newline || t.kind == Tok::semicolon) continue; // empty statement
            if (t.kind == Tok::error) return fail(t, "", t.text);
            if (t.kind != Tok::ident) return fail(t, "", "expected a key, found " + describe(t));
            if (t.text.size() > kMaxCfgKeyBytes)
                return fail(t, "",
                            "key '" + clip(t.text) + "' is longer than " + std::to_string(kMaxCfgKeyBytes) +
                                " characters (the limit)");

            CfgSetting setting;
            setting.where = location(t);
            setting.key = std::move(t.text);
            const std::string& key = setting.key;
            const Token op = tokens_.next();
            if (op.kind == Tok::error) return fail(op, key, op.text);
            if (op.kind != Tok::equals && op.kind != Tok::plus_equals)
                return fail(op, key, "expected '=' after the key, found " + describe(op));
            setting.appended = op.kind == Tok::plus_equals;

            auto value = parse_value(key);
            if (!value) return value.error();
            setting.value = std::move(value).value();

            const Token end = tokens_.next();
            if (end.kind == Tok::error) return fail(end, key, end.text);
            if (end.kind != Tok::newline && end.kind != Tok::semicolon && end.kind != Tok::end)
                return fail(end, key, "expected end of line or ';' after the value, found " + describe(end));

            if (auto stored = store(std::move(setting)); !stored) return stored.error();
        }
    }

private:
    CfgLocation location(const Token& t) const { return CfgLocation{source_, t.line, t.column}; }

    hv::Error fail(const CfgLocation& at, std::string_view key, const std::string& message) const {
        std::string text = at.str() + ": ";
        if (!key.empty()) text += std::string(key) + ": ";
        return hv::make_error(Errc::parse_error, text + message);
    }
    hv::Error fail(const Token& t, std::string_view key, const std::string& message) const {
        return fail(location(t), key, message);
    }

    CfgValue atom(Token&& t) const {
        CfgValue v;
        v.kind = t.kind == Tok::number ? CfgValue::Kind::number : CfgValue::Kind::string;
        v.where = location(t);
        v.text = std::move(t.text);
        v.number = t.number;
        return v;
    }

    // An element-level token that is not a value: the message for it.
    hv::Error not_a_value(const Token& t, const std::string& key, const char* expected) const {
        switch (t.kind) {
        case Tok::error: return fail(t, key, t.text);
        case Tok::ident: return fail(t, key, "unquoted word '" + clip(t.text) + "' (strings need quotes)");
        default: return fail(t, key, std::string("expected ") + expected + ", found " + describe(t));
        }
    }

    hv::Result<CfgValue> parse_value(const std::string& key) {
        Token t = tokens_.next(true, false);
        switch (t.kind) {
        case Tok::string:
        case Tok::number: return atom(std::move(t));
        case Tok::lbracket: return parse_list(key, t);
        case Tok::newline:
        case Tok::semicolon:
        case Tok::end: return fail(t, key, "empty value");
        default: return not_a_value(t, key, "a value");
        }
    }

    Token next_skipping_newlines(bool value) {
        Token t = tokens_.next(value, true);
        while (t.kind == Tok::newline) t = tokens_.next(value, true);
        return t;
    }

    hv::Result<CfgValue> parse_list(const std::string& key, const Token& open) {
        CfgValue list;
        list.kind = CfgValue::Kind::list;
        list.where = location(open);
        const std::string unterminated = "unterminated list (the '[' has no ']')";
        for (;;) {
            Token t = next_skipping_newlines(true);
            if (t.kind == Tok::rbracket) return list; // empty list, or after a trailing comma
            if (t.kind == Tok::end) return fail(open, key, unterminated);
            if (t.kind == Tok::lbracket) return fail(t, key, "nested lists are not supported");
            if (t.kind != Tok::string && t.kind != Tok::number) return not_a_value(t, key, "a list element or ']'");
            if (list.items.size() == kMaxCfgListItems) return fail(t, key, too_many_items());
            list.items.push_back(atom(std::move(t)));

            t = next_skipping_newlines(false);
            if (t.kind == Tok::rbracket) return list;
            if (t.kind == Tok::end) return fail(open, key, unterminated);
            if (t.kind == Tok::error) return fail(t, key, t.text);
            if (t.kind != Tok::comma)
                return fail(t, key,
                            "expected ',' or ']' in the list opened at " + std::to_string(open.line) + ":" +
                                std::to_string(open.column) + ", found " + describe(t));
        }
    }

    static std::string too_many_items() {
        return "more than " + std::to_string(kMaxCfgListItems) + " items (a list holds at most " +
               std::to_string(kMaxCfgListItems) + ")";
    }

    // '=' replaces (keeping the key's first position); '+=' appends to a
    // string or list of the same kind, as libxlutil's concat does, or sets
    // the key when it is new. Checked as if the statements before were
    // merged; kept in changes_ until the whole text is read.
    hv::Result<void> store(CfgSetting setting) {
        const auto pending = changes_.keys.find(setting.key);
        const bool touched = pending != changes_.keys.end();
        std::optional<Shape> old;
        if (touched) old = pending->second.shape;
        else if (const CfgSetting* existing = cfg_.find(setting.key)) old = shape_of(*existing);
        if (!old && cfg_.settings.size() + changes_.added.size() >= kMaxCfgSettings)
            return fail(setting.where, setting.key,
                        "more than " + std::to_string(kMaxCfgSettings) + " settings (a config holds at most " +
                            std::to_string(kMaxCfgSettings) + " keys)");

        const CfgValue& add = setting.value;
        const bool merge = setting.appended && old; // else the value is the key's whole new value
        Shape now = shape_of(setting);
        if (merge) {
            if (old->kind == CfgValue::Kind::number || add.kind == CfgValue::Kind::number)
                return fail(add.where, setting.key, "'+=' works on strings and lists, not numbers");
            if (old->kind != add.kind)
                return fail(add.where, setting.key,
                            "'+=' cannot add a " + std::string(add.kind == CfgValue::Kind::list ? "list" : "string") +
                                " to the " + (old->kind == CfgValue::Kind::list ? "list" : "string") + " set at " +
                                old->where.str());
            now = Shape{old->kind, old->items + add.items.size(), old->text + add.text.size(), setting.where};
            if (now.items > kMaxCfgListItems) return fail(add.where, setting.key, "'+=': " + too_many_items());
            if (now.text > kMaxCfgStringBytes) return fail(add.where, setting.key, "'+=': " + string_too_long());
        }
        const size_t items = changes_.items - (old ? old->items : 0) + now.items;
        if (items > kMaxCfgItems)
            return fail(add.where, setting.key,
                        "more than " + std::to_string(kMaxCfgItems) + " list items in all (a config holds at most " +
                            std::to_string(kMaxCfgItems) + ")");
        changes_.items = items;

        if (touched && merge) {
            Pending& p = pending->second;
            append_value(p.setting.value, std::move(setting.value));
            p.setting.where = std::move(setting.where);
            p.setting.appended = true;
            p.shape = std::move(now);
        } else if (touched) {
            pending->second = Pending{std::move(setting), true, std::move(now)};
        } else {
            // New to this text: its whole value, or what '+=' adds to the config's.
            std::string key = setting.key;
            const auto at = changes_.keys.emplace(std::move(key), Pending{std::move(setting), !merge, std::move(now)});
            if (!old) changes_.added.push_back(at.first);
        }
        return {};
    }

    const XlCfg& cfg_;
    Tokenizer tokens_;
    std::shared_ptr<const std::string> source_; // shared by every location in the text
    Changes changes_;
};

} // namespace

hv::Result<void> parse_xl_cfg_into(XlCfg& cfg, std::string_view text, std::string_view source,
                                   const XlCfgOptions& options) {
    if (text.size() > kMaxCfgTextBytes)
        return hv::make_error(Errc::parse_error, std::string(source) + ": " + std::to_string(text.size()) +
                                                     " bytes: a config text holds at most " +
                                                     std::to_string(kMaxCfgTextBytes >> 20) + " MiB");
    Parser parser(cfg, text, source, options);
    auto changes = parser.run();
    if (!changes) return changes.error();
    // Every statement is good: merge (nothing below can fail).
    for (auto& [key, change] : changes->keys) {
        const auto at = cfg.index_.find(key);
        if (at == cfg.index_.end()) continue; // a new key: added below, in order
        CfgSetting& old = cfg.settings[at->second];
        if (change.replace) {
            old = std::move(change.setting);
            continue;
        }
        append_value(old.value, std::move(change.setting.value));
        old.where = std::move(change.setting.where);
        old.appended = true;
    }
    for (const PendingMap::iterator& added : changes->added) {
        cfg.index_.emplace(added->first, cfg.settings.size());
        cfg.settings.push_back(std::move(added->second.setting));
    }
    cfg.items_ = changes->items;
    return {};
}

hv::Result<XlCfg> parse_xl_cfg(std::string_view text, std::string_view source, const XlCfgOptions& options) {
    XlCfg cfg;
    auto result = parse_xl_cfg_into(cfg, text, source, options);
    if (!result) return result.error();
    return cfg;
}

} // namespace hv::config
