// ManagedStore: the configs of managed domains (xl new / start / delete),
// kept in the state directory so they survive hvd restarts. Each is one
// file, STATE/managed/<name>.hvdom, written atomically (a temp file of its
// own, fsync, rename, fsync of the folder): a crash leaves the old file or
// the new one, never half of one, and two writers never share a temp file.
//
// Names come from the wire (hvd's members may be hostile): every public
// method checks the name with the project's one name rule
// (hv/abi/domain_name.h) before it builds a path, so the store only ever
// touches files inside its own folder.
//
// The record format (version 1) is length-prefixed so that any byte string
// (newlines, NULs, non-UTF-8) round-trips in every field:
//
//   hvdom 1\n
//   source <len>\n<len bytes>\n
//   override <len>\n<len bytes>\n      (zero or more, in order)
//   paused <len>\n<"0" or "1">\n
//   config <len>\n<len bytes>\n     (or: spec <len>\n<len bytes>\n, a typed
//                                   DomainSpec in CREATE_SPEC's wire form,
//                                   without the paused flag; then source is
//                                   empty and there are no overrides)
//   end\n
//
// <len> is decimal without leading zeros. Fields come in exactly this order;
// the reader refuses anything else (unknown keys, repeats, truncation,
// trailing bytes, a record over kMaxRecordBytes) with a message naming the
// file and what is wrong.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hv/result.hpp"
#include "hv/sdk/types.hpp"

namespace hvd {

class ManagedStore {
public:
    // The largest record, in bytes of its file, that put writes and get reads.
    static constexpr size_t kMaxRecordBytes = size_t{2} << 20; // 2 MiB

    explicit ManagedStore(std::string dir) : dir_(std::move(dir)) {}

    // Stores `req` under `name`. With replace == false an existing record is
    // left alone and Errc::exists returned; of racing non-replacing puts of
    // one name exactly one succeeds. With replace == true the last writer
    // wins. Refuses a bad name (invalid_argument) and a record over
    // kMaxRecordBytes (invalid_argument).
    hv::Result<void> put(const std::string& name, const hv::sdk::CreateRequest& req, bool replace = true);
    // not_found when there is no record; parse_error when the file is not a
    // valid version-1 record.
    hv::Result<hv::sdk::CreateRequest> get(const std::string& name) const;
    hv::Result<void> remove(const std::string& name);
    // The names of the records: regular files "<name>.hvdom" whose name
    // passes the name rule, sorted.
    std::vector<std::string> names() const;
    // Removes temp files ("*.hvdom.tmp.*") a crashed writer left behind;
    // returns how many. Call it at start, before any put.
    size_t clean_leftovers();

    // The record format on its own (exposed for tests and tools). parse's
    // errors start with `where` (the file).
    static std::string serialize(const hv::sdk::CreateRequest& req);
    static hv::Result<hv::sdk::CreateRequest> parse(std::string_view bytes, const std::string& where);

private:
    hv::Result<void> check_name(const std::string& name) const;
    // Only after check_name.
    std::string path_of(const std::string& name) const { return dir_ + "/" + name + ".hvdom"; }
    std::string dir_;
};

// Writes `bytes` to `path` atomically (see above), through a temp file of its
// own ("<path>.tmp.XXXXXX" in the same folder). With replace == false it
// returns Errc::exists, atomically, when `path` exists.
hv::Result<void> write_file_atomic(const std::string& path, const std::string& bytes, bool replace = true);

} // namespace hvd
