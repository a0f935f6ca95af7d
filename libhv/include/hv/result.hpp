// hv::Result<T>: the hosted side's expected-like return type (C++20 has no
// std::expected). Carries a value or an Error with a stable code and a
// message that names what is wrong and where. Never throws. Reading the
// value of a failed Result (or the error of a successful one) is a bug: it
// prints what the Result held on stderr and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hv {

enum class Errc {
    invalid_argument, // a value the caller passed is wrong
    not_found,        // no such domain, file, key
    exists,           // a name or id already taken
    io_error,         // the host failed a read, write, open
    parse_error,      // a config, image or message did not parse
    not_supported,    // valid, but hv does not do it yet
    busy,             // the object is in a state that forbids this now
    timed_out,        // a wait ran out
    platform_error,   // the virtualization platform (KVM) refused
    bad_image,        // a kernel image is corrupt or of the wrong kind
    permission_denied, // the caller may not do this (control socket peers)
    protocol_error,   // a control-protocol peer broke the framing or the version rules
};

constexpr std::string_view errc_name(Errc e) noexcept {
    switch (e) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::exists: return "exists";
    case Errc::io_error: return "io_error";
    case Errc::parse_error: return "parse_error";
    case Errc::not_supported: return "not_supported";
    case Errc::busy: return "busy";
    case Errc::timed_out: return "timed_out";
    case Errc::platform_error: return "platform_error";
    case Errc::bad_image: return "bad_image";
    case Errc::permission_denied: return "permission_denied";
    case Errc::protocol_error: return "protocol_error";
    }
    return "unknown";
}

struct Error {
    Errc code;
    std::string message;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

// "code_name: message" (e.g. "not_found: no domain 'web'").
inline std::string describe(const Error& e) {
    std::string out(errc_name(e.code));
    if (!e.message.empty()) out.append(": ").append(e.message);
    return out;
}

namespace detail {

// What a misused Result prints before it aborts.
inline std::string bad_value_access_message(const Error& e) {
    return "hv::Result: value read from a failed Result (check ok() first): " + describe(e);
}
inline constexpr const char* kBadErrorAccess = "hv::Result: error() read from a successful Result (check ok() first)";

[[noreturn]] inline void result_misuse(const std::string& message) noexcept {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    std::abort();
}

} // namespace detail

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { check(); return std::get<0>(v_); }
    const T& value() const& { check(); return std::get<0>(v_); }
    T&& value() && { check(); return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    // By value: `for (auto& x : *make_result())` must not dangle.
    T operator*() && { return std::move(*this).value(); }

    const Error& error() const {
        if (ok()) detail::result_misuse(detail::kBadErrorAccess); // asking a success for its error is a bug
        return std::get<1>(v_);
    }

private:
    void check() const {
        // Asking a failure for its value is a bug: say which failure.
        if (!ok()) detail::result_misuse(detail::bad_value_access_message(std::get<1>(v_)));
    }
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : err_(std::move(error)), failed_(true) {}

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const {
        if (!failed_) detail::result_misuse(detail::kBadErrorAccess);
        return err_;
    }

private:
    Error err_{Errc::invalid_argument, {}};
    bool failed_ = false;
};

} // namespace hv
