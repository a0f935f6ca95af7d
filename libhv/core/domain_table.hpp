// DomainTable: the monitor's registry of domains (domid, name, UUID).
// Fixed capacity and no allocation, so the ring-0 image can hold one too.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hv/abi/domain_name.h"

namespace hv::core {

constexpr size_t kMaxDomains = 64;
constexpr size_t kMaxNameLength = HV_DOMAIN_NAME_MAX;
// Xen reserves domids from 0x7FF0 up (DOMID_FIRST_RESERVED); domid 0 is the
// control domain, so guests get 1 .. 0x7FEF.
constexpr uint32_t kFirstGuestDomid = 1;
constexpr uint32_t kFirstReservedDomid = 0x7FF0;

struct DomainRecord {
    uint32_t domid = 0;
    char name[kMaxNameLength + 1] = {};
    uint8_t uuid[16] = {};
    bool used = false;
};

enum class TableError : uint8_t { ok, bad_name, name_taken, full, no_such_domain, domid_taken, bad_domid };

const char* table_error_text(TableError e);

// The one name rule (hv/abi/domain_name.h): 1..63 characters of
// [A-Za-z0-9_.-], not all digits (a number is a domid), not starting with
// '.' or '-', no "..": always one safe path component.
bool valid_domain_name(const char* name, size_t len);

class DomainTable {
public:
    // Adds a domain and gives it the next free domid (never reused until
    // the ids wrap), so a stale id cannot name a newer domain.
    TableError add(const char* name, size_t name_len, const uint8_t uuid[16], uint32_t& domid_out);
    // Adds with a domid chosen elsewhere (hvd hands ids to the monitor
    // processes it runs, so that they are unique across them).
    TableError add_with_domid(const char* name, size_t name_len, const uint8_t uuid[16], uint32_t domid);
    TableError remove(uint32_t domid);
    TableError rename(uint32_t domid, const char* name, size_t name_len);

    const DomainRecord* find(uint32_t domid) const;
    const DomainRecord* find_by_name(const char* name, size_t name_len) const;
    size_t count() const { return count_; }

    // Iteration in slot order: index from 0 to kMaxDomains, skipping unused.
    const DomainRecord& slot(size_t i) const { return slots_[i]; }

private:
    DomainRecord* find_mut(uint32_t domid);
    uint32_t next_free_domid() const;

    DomainRecord slots_[kMaxDomains];
    size_t count_ = 0;
    uint32_t next_domid_ = kFirstGuestDomid;
};

} // namespace hv::core
