// The control ABI's framing (hv/abi/control.h), header-only: encoding a
// frame, and an incremental decoder that validates every header before
// trusting its length. Shared by the SDK's client and the servers.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <hv/abi/control.h>

namespace hv::sdk::wire {

struct Frame {
    hv_ctl_header_t header{};
    std::string payload;
};

inline std::string encode(uint16_t version, uint16_t kind, uint32_t op, uint32_t request_id, int32_t status,
                          std::string_view payload) {
    hv_ctl_header_t h{};
    h.magic = HV_CTL_MAGIC;
    h.version = version;
    h.kind = kind;
    h.op = op;
    h.request_id = request_id;
    h.status = status;
    h.length = static_cast<uint32_t>(payload.size());
    std::string out(sizeof h + payload.size(), '\0');
    std::memcpy(out.data(), &h, sizeof h);
    if (!payload.empty()) std::memcpy(out.data() + sizeof h, payload.data(), payload.size());
    return out;
}

// A POD struct's bytes, then an optional trailer.
template <class T>
std::string pack(const T& value, std::string_view trailer = {}) {
    std::string out(sizeof(T) + trailer.size(), '\0');
    std::memcpy(out.data(), &value, sizeof(T));
    if (!trailer.empty()) std::memcpy(out.data() + sizeof(T), trailer.data(), trailer.size());
    return out;
}

// Reads a POD struct from the front of a payload; nullopt when short.
template <class T>
std::optional<T> unpack(std::string_view payload) {
    if (payload.size() < sizeof(T)) return std::nullopt;
    T v;
    std::memcpy(&v, payload.data(), sizeof(T));
    return v;
}

// Copies `s` into a fixed NUL-padded name field; false when it does not fit.
template <size_t N>
inline bool put_name(char (&dst)[N], std::string_view s) {
    std::memset(dst, 0, sizeof dst);
    if (s.size() >= sizeof dst) return false;
    std::memcpy(dst, s.data(), s.size());
    return true;
}

// A name field as a string; nullopt when it is not NUL-terminated.
template <size_t N>
inline std::optional<std::string> get_name(const char (&src)[N]) {
    const void* nul = std::memchr(src, 0, sizeof src);
    if (nul == nullptr) return std::nullopt;
    return std::string(src, static_cast<const char*>(nul));
}

// Incremental decoder: feed() bytes as they arrive, next() yields whole
// frames. A bad header (magic, kind, oversized length) is an error that
// poisons the stream: a peer that sends one is closed, since nothing after
// it can be framed reliably.
class Decoder {
public:
    enum class Status { frame, need_more, error };

    void feed(const void* data, size_t len) {
        if (error_.empty()) buf_.append(static_cast<const char*>(data), len);
    }

    Status next(Frame& out) {
        if (!error_.empty()) return Status::error;
        if (buf_.size() < sizeof(hv_ctl_header_t)) return Status::need_more;
        hv_ctl_header_t h;
        std::memcpy(&h, buf_.data(), sizeof h);
        if (h.magic != HV_CTL_MAGIC) return fail("bad frame magic");
        if (h.kind < HV_CTL_REQUEST || h.kind > HV_CTL_EVENT) return fail("bad frame kind " + std::to_string(h.kind));
        if (h.length > HV_CTL_MAX_PAYLOAD)
            return fail("frame payload of " + std::to_string(h.length) + " bytes is over the " +
                        std::to_string(HV_CTL_MAX_PAYLOAD) + "-byte limit");
        if (buf_.size() - sizeof h < h.length) return Status::need_more;
        out.header = h;
        out.payload.assign(buf_, sizeof h, h.length);
        buf_.erase(0, sizeof h + h.length);
        return Status::frame;
    }

    const std::string& error() const { return error_; }
    size_t buffered() const { return buf_.size(); }

private:
    Status fail(std::string why) {
        error_ = std::move(why);
        buf_.clear();
        return Status::error;
    }
    std::string buf_;
    std::string error_;
};

} // namespace hv::sdk::wire
