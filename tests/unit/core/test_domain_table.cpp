#include <catch2/catch.hpp>

#include <string>

#include "core/domain_table.hpp"

using hv::core::DomainTable;
using hv::core::TableError;

namespace {
const uint8_t kUuid[16] = {1, 2, 3};
TableError add(DomainTable& t, const std::string& name, uint32_t& id) { return t.add(name.data(), name.size(), kUuid, id); }
} // namespace

TEST_CASE("domain table hands out increasing domids and finds by name and id", "[core][table]") {
    DomainTable t;
    uint32_t a = 0, b = 0;
    REQUIRE(add(t, "web", a) == TableError::ok);
    REQUIRE(add(t, "db", b) == TableError::ok);
    CHECK(a == 1);
    CHECK(b == 2);
    CHECK(t.count() == 2);
    CHECK(t.find(b)->name == std::string("db"));
    CHECK(t.find_by_name("web", 3)->domid == a);
    CHECK(t.find_by_name("we", 2) == nullptr);
    CHECK(t.find(a)->uuid[2] == 3);
}

TEST_CASE("domain ids are not reused right away", "[core][table]") {
    DomainTable t;
    uint32_t a = 0, b = 0;
    REQUIRE(add(t, "a", a) == TableError::ok);
    REQUIRE(t.remove(a) == TableError::ok);
    REQUIRE(add(t, "a", b) == TableError::ok);
    CHECK(b == a + 1);
    CHECK(t.remove(a) == TableError::no_such_domain);
}

TEST_CASE("domain names are validated", "[core][table][bad-input]") {
    DomainTable t;
    uint32_t id = 0;
    CHECK(add(t, "", id) == TableError::bad_name);
    CHECK(add(t, "123", id) == TableError::bad_name);       // would read as a domid
    CHECK(add(t, "a b", id) == TableError::bad_name);
    CHECK(add(t, "a/b", id) == TableError::bad_name);
    CHECK(add(t, std::string(64, 'x'), id) == TableError::bad_name);
    CHECK(add(t, std::string(63, 'x'), id) == TableError::ok);
    CHECK(add(t, "vm-1.test_2", id) == TableError::ok);
    CHECK(add(t, "vm-1.test_2", id) == TableError::name_taken);
}

TEST_CASE("rename keeps names unique", "[core][table]") {
    DomainTable t;
    uint32_t a = 0, b = 0;
    REQUIRE(add(t, "a", a) == TableError::ok);
    REQUIRE(add(t, "b", b) == TableError::ok);
    CHECK(t.rename(a, "b", 1) == TableError::name_taken);
    CHECK(t.rename(a, "a", 1) == TableError::ok); // to its own name
    CHECK(t.rename(a, "c", 1) == TableError::ok);
    CHECK(t.find_by_name("c", 1)->domid == a);
    CHECK(t.find_by_name("a", 1) == nullptr);
    CHECK(t.rename(99, "d", 1) == TableError::no_such_domain);
    CHECK(t.rename(a, "", 0) == TableError::bad_name);
}

TEST_CASE("the table refuses more than its capacity", "[core][table][bad-input]") {
    DomainTable t;
    uint32_t id = 0;
    for (size_t i = 0; i < hv::core::kMaxDomains; ++i) REQUIRE(add(t, "d" + std::to_string(i), id) == TableError::ok);
    CHECK(add(t, "one-more", id) == TableError::full);
    REQUIRE(t.remove(5) == TableError::ok);
    CHECK(add(t, "one-more", id) == TableError::ok);
    CHECK(id == hv::core::kMaxDomains + 1);
}
