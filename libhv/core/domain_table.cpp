#include "core/domain_table.hpp"

#include "core/text.hpp"

namespace hv::core {

const char* table_error_text(TableError e) {
    switch (e) {
    case TableError::ok: return "ok";
    case TableError::bad_name:
        return "invalid domain name (1-63 characters of A-Z a-z 0-9 _ . -, not all digits, not starting with '.' or "
               "'-', no '..')";
    case TableError::name_taken: return "a domain with that name exists";
    case TableError::full: return "too many domains";
    case TableError::no_such_domain: return "no such domain";
    case TableError::domid_taken: return "that domid is in use";
    case TableError::bad_domid: return "domid outside 1..0x7fef";
    }
    return "unknown";
}

bool valid_domain_name(const char* name, size_t len) { return hv_domain_name_problem(name, len) == HV_DOMAIN_NAME_OK; }

uint32_t DomainTable::next_free_domid() const {
    uint32_t id = next_domid_;
    for (;;) {
        if (id >= kFirstReservedDomid) id = kFirstGuestDomid;
        if (find(id) == nullptr) return id;
        ++id;
    }
}

TableError DomainTable::add(const char* name, size_t name_len, const uint8_t uuid[16], uint32_t& domid_out) {
    if (count_ == kMaxDomains) return TableError::full;
    domid_out = next_free_domid();
    return add_with_domid(name, name_len, uuid, domid_out);
}

TableError DomainTable::add_with_domid(const char* name, size_t name_len, const uint8_t uuid[16], uint32_t domid) {
    if (!valid_domain_name(name, name_len)) return TableError::bad_name;
    if (find_by_name(name, name_len) != nullptr) return TableError::name_taken;
    if (domid < kFirstGuestDomid || domid >= kFirstReservedDomid) return TableError::bad_domid;
    if (find(domid) != nullptr) return TableError::domid_taken;
    if (count_ == kMaxDomains) return TableError::full;
    for (DomainRecord& r : slots_) {
        if (r.used) continue;
        r.domid = domid;
        text_copy(r.name, sizeof r.name, name, name_len);
        for (size_t i = 0; i < 16; ++i) r.uuid[i] = uuid[i];
        r.used = true;
        ++count_;
        next_domid_ = r.domid + 1;
        return TableError::ok;
    }
    return TableError::full;
}

TableError DomainTable::remove(uint32_t domid) {
    DomainRecord* r = find_mut(domid);
    if (r == nullptr) return TableError::no_such_domain;
    *r = DomainRecord{};
    --count_;
    return TableError::ok;
}

TableError DomainTable::rename(uint32_t domid, const char* name, size_t name_len) {
    DomainRecord* r = find_mut(domid);
    if (r == nullptr) return TableError::no_such_domain;
    if (!valid_domain_name(name, name_len)) return TableError::bad_name;
    const DomainRecord* other = find_by_name(name, name_len);
    if (other != nullptr && other != r) return TableError::name_taken;
    text_copy(r->name, sizeof r->name, name, name_len);
    return TableError::ok;
}

DomainRecord* DomainTable::find_mut(uint32_t domid) {
    for (DomainRecord& r : slots_)
        if (r.used && r.domid == domid) return &r;
    return nullptr;
}

const DomainRecord* DomainTable::find(uint32_t domid) const {
    for (const DomainRecord& r : slots_)
        if (r.used && r.domid == domid) return &r;
    return nullptr;
}

const DomainRecord* DomainTable::find_by_name(const char* name, size_t name_len) const {
    for (const DomainRecord& r : slots_)
        if (r.used && text_equals(name, name_len, r.name)) return &r;
    return nullptr;
}

} // namespace hv::core
