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
    CHECK(t.rename(t.find_by_name("vm-1.test_2", 11)->domid, "..", 2) == TableError::bad_name);
}

// The one rule of hv/abi/domain_name.h, which the table, the config reader
// and the control plane share: each refusal with its reason.
TEST_CASE("the domain name rule: what it refuses and why", "[core][table][bad-input]") {
    const auto problem = [](const std::string& name) -> std::string {
        const char* why = hv_domain_name_problem(name.data(), name.size());
        return why == HV_DOMAIN_NAME_OK ? "ok" : why;
    };
    CHECK(problem("web-1.example_2") == "ok");
    CHECK(problem(std::string(63, 'x')) == "ok");
    CHECK(problem("a.b") == "ok");
    CHECK(problem("a1") == "ok");
    CHECK(problem("1a") == "ok");
    CHECK(problem("_x") == "ok");
    CHECK(problem("x.") == "ok");
    CHECK(problem("x-") == "ok");
    CHECK(problem("") == "must not be empty");
    CHECK(problem(std::string(64, 'x')) == "longer than 63 characters");
    CHECK(problem("..") == "must not start with '.' or '-'");
    CHECK(problem("a..b") == "must not contain '..'");
    CHECK(problem(".hidden") == "must not start with '.' or '-'");
    CHECK(problem("-x") == "must not start with '.' or '-'");
    CHECK(problem("a/b") == "may only use letters, digits, '_', '.' and '-'");
    CHECK(problem("../x") == "may only use letters, digits, '_', '.' and '-'");
    CHECK(problem("12345") == "must not be all digits (a number is a domid)");
    CHECK(problem("a\x01z") == "may only use letters, digits, '_', '.' and '-'");
    CHECK(problem(std::string("a\0b", 3)) == "may only use letters, digits, '_', '.' and '-'");
    CHECK(problem("a\tb") == "may only use letters, digits, '_', '.' and '-'");
    CHECK(problem("a\x7f") == "may only use letters, digits, '_', '.' and '-'");
    CHECK(problem("caf\xc3\xa9") == "may only use letters, digits, '_', '.' and '-'");
    CHECK(problem("a b") == "may only use letters, digits, '_', '.' and '-'");
    // Only the given length counts: no NUL needed, none looked for.
    CHECK(hv_domain_name_problem("abc/def", 3) == HV_DOMAIN_NAME_OK);

    // The core's check and its table take and refuse exactly these.
    DomainTable t;
    uint32_t id = 0;
    for (const char* bad : {"..", ".hidden", "-x", "a/b", "12345", "a\x01z"}) {
        INFO(bad);
        CHECK_FALSE(hv::core::valid_domain_name(bad, std::string(bad).size()));
        CHECK(add(t, bad, id) == TableError::bad_name);
    }
    CHECK(add(t, std::string(64, 'n'), id) == TableError::bad_name);
    CHECK(hv::core::valid_domain_name("web-1.example_2", 15));
    CHECK(add(t, "web-1.example_2", id) == TableError::ok);
    CHECK(hv::core::kMaxNameLength == HV_DOMAIN_NAME_MAX);
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
