// ManagedStore: the configs of managed domains (xl new / start / delete),
// kept in the state directory so they survive hvd restarts. Each is one
// file, written atomically (temp file, fsync, rename, fsync of the folder):
// a crash leaves the old file or the new one, never half of one.
#pragma once

#include <string>
#include <vector>

#include "hv/result.hpp"
#include "hv/sdk/types.hpp"

namespace hvd {

class ManagedStore {
public:
    explicit ManagedStore(std::string dir) : dir_(std::move(dir)) {}

    hv::Result<void> put(const std::string& name, const hv::sdk::CreateRequest& req);
    hv::Result<hv::sdk::CreateRequest> get(const std::string& name) const;
    hv::Result<void> remove(const std::string& name);
    std::vector<std::string> names() const;

private:
    std::string path_of(const std::string& name) const { return dir_ + "/" + name + ".hvdom"; }
    std::string dir_;
};

// Writes `bytes` to `path` atomically (see above).
hv::Result<void> write_file_atomic(const std::string& path, const std::string& bytes);

} // namespace hvd
