// Fuzz target for hvd's managed-domain record reader,
// hvd::ManagedStore::parse (tools/hvd/managed_store.cpp): the bytes of a
// STATE/managed/<name>.hvdom file, which a local user with write access to
// the state folder, a crash or a full disk may have left in any shape.
// Besides "no crash" (and, under libFuzzer, no leak, no timeout and no
// allocation over -rss_limit_mb), it checks the invariants below and aborts
// on the first one broken:
//   - parse answers a CreateRequest or parse_error with a message that
//     starts with the file's name;
//   - a record it accepts round-trips: serialize gives back exactly the
//     input's bytes (the format has one spelling per request), and parsing
//     that again gives an equal request (config_text, source, overrides,
//     paused);
//   - the other way round, a request built from the input's bytes (split at
//     0xFF bytes: source, config, overrides; paused from the length)
//     serializes to a record parse accepts and reads back equal, whatever
//     bytes (newlines, NULs, "end" lines) its fields hold.
//
// Built two ways: as a libFuzzer binary (tests/fuzz/meson.build, with
// HV_LIBFUZZER defined) and into the unit tests, whose smoke test calls
// hv::fuzz::managed_store_fuzz_check directly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "managed_store.hpp"

#include "managed_store_fuzz.hpp"
#include "fuzz_check.hpp"

namespace hv::fuzz {
namespace {

using hv::sdk::CreateRequest;
using hvd::ManagedStore;

const std::string kWhere = "/fuzz/state/managed/fuzz.hvdom";

bool same_spec(const hv::sdk::DomainSpec& a, const hv::sdk::DomainSpec& b) {
    return a.name == b.name && a.kernel == b.kernel && a.ramdisk == b.ramdisk && a.cmdline == b.cmdline &&
           a.memory_mib == b.memory_mib && a.vcpus == b.vcpus && a.uuid == b.uuid && a.on_poweroff == b.on_poweroff &&
           a.on_reboot == b.on_reboot && a.on_crash == b.on_crash;
}

bool same_request(const CreateRequest& a, const CreateRequest& b) {
    if (a.spec.has_value() != b.spec.has_value() || (a.spec && !same_spec(*a.spec, *b.spec))) return false;
    return a.config_text == b.config_text && a.source == b.source && a.overrides == b.overrides &&
           a.paused == b.paused;
}

// serialize, then parse: must read back what was written.
std::string round_trip(const CreateRequest& req, const std::string& record) {
    auto again = ManagedStore::parse(record, kWhere);
    if (!again) return "a serialized record does not parse: " + again.error().message;
    HV_FUZZ_CHECK(same_request(*again, req), "a serialized record parses to a different request");
    HV_FUZZ_CHECK(!again->replace && !again->warn, "parse set a field the record does not hold");
    return {};
}

} // namespace

std::string managed_store_fuzz_check(const uint8_t* data, size_t size, ManagedStoreFuzzStats& stats) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), data == nullptr ? 0 : size);

    auto req = ManagedStore::parse(bytes, kWhere);
    if (!req) {
        ++stats.refused;
        HV_FUZZ_CHECK(req.error().code == Errc::parse_error, "parse: an error other than parse_error");
        HV_FUZZ_CHECK(req.error().message.size() > kWhere.size() + 2 &&
                          std::string_view(req.error().message).substr(0, kWhere.size() + 2) == kWhere + ": ",
                      "parse: an error that does not start with the file's name");
    } else {
        ++stats.parsed;
        stats.overrides += req->overrides.size();
        const std::string record = ManagedStore::serialize(*req);
        HV_FUZZ_CHECK(record == bytes, "an accepted record does not serialize back to its bytes");
        if (auto why = round_trip(*req, record); !why.empty()) return why;
    }

    // A request whose fields are the input's bytes: source, config, then
    // overrides, split at 0xFF.
    CreateRequest built;
    built.paused = size % 2 == 1;
    std::string_view rest = bytes;
    for (size_t field = 0;; ++field) {
        const size_t sep = rest.find('\xff');
        const std::string_view piece = rest.substr(0, sep);
        if (field == 0) built.source.assign(piece);
        else if (field == 1) built.config_text.assign(piece);
        else built.overrides.emplace_back(piece);
        if (sep == std::string_view::npos) break;
        rest.remove_prefix(sep + 1);
    }
    ++stats.built;
    return round_trip(built, ManagedStore::serialize(built));
}

} // namespace hv::fuzz

int hv_managed_store_fuzz_one(const uint8_t* data, size_t size) {
    return hv::fuzz::run_or_abort("managed_store_fuzz", hv::fuzz::managed_store_fuzz_check, data, size);
}

#ifdef HV_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return hv_managed_store_fuzz_one(data, size);
}
#endif
