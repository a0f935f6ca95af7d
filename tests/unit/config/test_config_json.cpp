// DomainConfig -> JSON: the exact document, resolved values and escaping.
#include <catch2/catch.hpp>

#include <string>

#include "config/config_json.hpp"
#include "config/domain_config_loader.hpp"

using hv::config::DomainConfig;
using hv::config::domain_config_to_json;
using hv::config::json_quote;
using hv::core::ShutdownAction;

TEST_CASE("config_json: json_quote escapes quotes, backslashes and control characters", "[config][json]") {
    CHECK(json_quote("") == R"("")");
    CHECK(json_quote("plain text /x") == R"("plain text /x")");
    CHECK(json_quote("say \"hi\"") == R"("say \"hi\"")");
    CHECK(json_quote("C:\\dir\\") == R"("C:\\dir\\")");
    CHECK(json_quote("a\nb\tc\rd\be\ff") == R"("a\nb\tc\rd\be\ff")");
    CHECK(json_quote(std::string("\0\x01\x1f\x7f", 4)) == R"("\u0000\u0001\u001f\u007f")");
    CHECK(json_quote("\x1b[31m") == R"("\u001b[31m")");
}

TEST_CASE("config_json: json_quote keeps UTF-8 and replaces invalid bytes", "[config][json]") {
    CHECK(json_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    CHECK(json_quote("\xff") == R"("\ufffd")");
    CHECK(json_quote("a\xc3") == R"("a\ufffd")");                          // truncated sequence
    CHECK(json_quote("\xc3(") == R"("\ufffd(")");                          // bad continuation
    CHECK(json_quote("\xc0\xaf") == R"("\ufffd\ufffd")");                  // overlong '/'
    CHECK(json_quote("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");        // UTF-16 surrogate
    CHECK(json_quote("\xf4\x90\x80\x80") == R"("\ufffd\ufffd\ufffd\ufffd")"); // past U+10FFFF
    CHECK(json_quote("\xe2\x82") == R"("\ufffd\ufffd")");
}

TEST_CASE("config_json: a parsed config as the exact document", "[config][json]") {
    auto r = hv::config::parse_domain_config("name = 'prueba'\n"
                                             "uuid = 'baaaa213-6d28-c55b-4e79-95faedde297f'\n"
                                             "kernel = '/boot/vmlinuz'\n"
                                             "ramdisk = '/boot/initrd'\n"
                                             "root = '/dev/xvda2 ro'\n"
                                             "extra = 'console=\"hvc0\"'\n"
                                             "memory = 256\nmaxmem = 512\nvcpus = 2\n"
                                             "on_crash = 'coredump-restart'\n"
                                             "disk = ['file:/a.img,xvda,w']\n",
                                             "dir/prueba.cfg");
    INFO((r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    CHECK(domain_config_to_json(*r) == R"({
  "name": "prueba",
  "uuid": "baaaa213-6d28-c55b-4e79-95faedde297f",
  "kernel": "/boot/vmlinuz",
  "cmdline": "root=/dev/xvda2 ro console=\"hvc0\"",
  "ramdisk": "/boot/initrd",
  "kernel_entry": "auto",
  "memory": 256,
  "maxmem": 512,
  "vcpus": 2,
  "maxvcpus": 2,
  "cpus": null,
  "cpus_soft": null,
  "cpu_weight": null,
  "cap": null,
  "io_weight": 100,
  "on_poweroff": "destroy",
  "on_reboot": "restart",
  "on_crash": "coredump-restart",
  "disks": [
    {
      "target": "/a.img",
      "format": "raw",
      "vdev": "xvda",
      "access": "rw",
      "devtype": "disk",
      "backendtype": "",
      "backend": "",
      "script": "",
      "specification": "",
      "direct_io_safe": false,
      "discard": null,
      "trusted": null,
      "grant_usage": null,
      "legacy_prefix": "file:",
      "rate": "",
      "rate_bytes_per_interval": 0,
      "rate_interval_usecs": 0,
      "iops": "",
      "iops_per_interval": 0,
      "iops_interval_usecs": 0
    }
  ],
  "vifs": [],
  "source": "dir/prueba.cfg",
  "unsupported": [
    {
      "key": "on_crash",
      "where": "dir/prueba.cfg:10:1",
      "why": "action 'coredump-restart' not supported yet"
    }
  ]
}
)");
}

TEST_CASE("config_json: defaults, null uuid, empty unsupported and escaped fields", "[config][json]") {
    DomainConfig c;
    c.name = "g";
    c.kernel = "/k\\\"";
    c.cmdline = "a\tb";
    c.memory_mib = 64;
    c.maxmem_mib = 0; // unset: shown as memory
    c.vcpus = 3;
    c.maxvcpus = 0;   // unset: shown as vcpus
    c.actions.on_reboot = ShutdownAction::rename_restart;
    CHECK(domain_config_to_json(c) == R"({
  "name": "g",
  "uuid": null,
  "kernel": "/k\\\"",
  "cmdline": "a\tb",
  "ramdisk": "",
  "kernel_entry": "auto",
  "memory": 64,
  "maxmem": 64,
  "vcpus": 3,
  "maxvcpus": 3,
  "cpus": null,
  "cpus_soft": null,
  "cpu_weight": null,
  "cap": null,
  "io_weight": 100,
  "on_poweroff": "destroy",
  "on_reboot": "rename-restart",
  "on_crash": "destroy",
  "disks": [],
  "vifs": [],
  "source": "",
  "unsupported": []
}
)");
}

TEST_CASE("config_json: unsupported entries are escaped too", "[config][json]") {
    DomainConfig c;
    c.unsupported.push_back({"k\"ey", "a\nb:1:1", "why\x01"});
    const std::string json = domain_config_to_json(c);
    CHECK(json.find(R"(      "key": "k\"ey",)") != std::string::npos);
    CHECK(json.find(R"(      "where": "a\nb:1:1",)") != std::string::npos);
    CHECK(json.find(R"(      "why": "why\u0001")") != std::string::npos);
    CHECK(json.find("  \"unsupported\": [\n    {\n") != std::string::npos);
    const std::string tail = "\"\n    }\n  ]\n}\n";
    REQUIRE(json.size() > tail.size());
    CHECK(json.substr(json.size() - tail.size()) == tail);
}

TEST_CASE("config_json: disks and vifs, every field", "[config][json]") {
    auto r = hv::config::parse_domain_config(
        "name = 'g'\nkernel = '/k'\n"
        "disk = [ 'vdev=hdc,devtype=cdrom,discard,untrusted,backendtype=qdisk,backend=dd,specification=xen',\n"
        "         'nbd:host:1,xvda,r,', 'direct-io-safe,no-discard,trusted,grant_usage=1,/q,qcow2,xvdb' ]\n"
        "vif = [ 'mac=00:16:3E:00:00:01, ip=10.0.0.1 10.0.0.2, rate=10Mb/s@20ms, devid=1, mtu=1500, type=vif,"
        " model=e1000, vifname=v, script=s, backend=b, gatewaydev=eth0, bridge=br' ]\n",
        "t.cfg");
    INFO((r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    const std::string json = domain_config_to_json(*r);
    const auto block = [&](const std::string& from, const std::string& to) {
        const size_t a = json.find(from), b = json.find(to);
        REQUIRE(a != std::string::npos);
        REQUIRE(b != std::string::npos);
        return json.substr(a, b - a);
    };
    CHECK(block("  \"disks\"", "  \"vifs\"") == R"(  "disks": [
    {
      "target": "",
      "format": "empty",
      "vdev": "hdc",
      "access": "ro",
      "devtype": "cdrom",
      "backendtype": "qdisk",
      "backend": "dd",
      "script": "",
      "specification": "xen",
      "direct_io_safe": false,
      "discard": true,
      "trusted": false,
      "grant_usage": null,
      "legacy_prefix": "",
      "rate": "",
      "rate_bytes_per_interval": 0,
      "rate_interval_usecs": 0,
      "iops": "",
      "iops_per_interval": 0,
      "iops_interval_usecs": 0
    },
    {
      "target": "host:1",
      "format": "raw",
      "vdev": "xvda",
      "access": "ro",
      "devtype": "disk",
      "backendtype": "",
      "backend": "",
      "script": "block-nbd",
      "specification": "",
      "direct_io_safe": false,
      "discard": null,
      "trusted": null,
      "grant_usage": null,
      "legacy_prefix": "nbd:",
      "rate": "",
      "rate_bytes_per_interval": 0,
      "rate_interval_usecs": 0,
      "iops": "",
      "iops_per_interval": 0,
      "iops_interval_usecs": 0
    },
    {
      "target": "/q",
      "format": "qcow2",
      "vdev": "xvdb",
      "access": "rw",
      "devtype": "disk",
      "backendtype": "",
      "backend": "",
      "script": "",
      "specification": "",
      "direct_io_safe": true,
      "discard": false,
      "trusted": true,
      "grant_usage": true,
      "legacy_prefix": "",
      "rate": "",
      "rate_bytes_per_interval": 0,
      "rate_interval_usecs": 0,
      "iops": "",
      "iops_per_interval": 0,
      "iops_interval_usecs": 0
    }
  ],
)");
    CHECK(block("  \"vifs\"", "  \"source\"") == R"(  "vifs": [
    {
      "mac": "00:16:3e:00:00:01",
      "bridge": "br",
      "ip": ["10.0.0.1", "10.0.0.2"],
      "type": "vif",
      "model": "e1000",
      "vifname": "v",
      "script": "s",
      "backend": "b",
      "gatewaydev": "eth0",
      "rate": "10Mb/s@20ms",
      "rate_bytes_per_interval": 25000,
      "rate_interval_usecs": 20000,
      "devid": 1,
      "mtu": 1500
    }
  ],
)");

    DomainConfig c;
    c.vifs.emplace_back(); // all unset
    CHECK(domain_config_to_json(c).find(R"(      "mac": null,
      "bridge": "",
      "ip": [],
      "type": "",)") != std::string::npos);
    CHECK(domain_config_to_json(c).find(R"(      "devid": null,
      "mtu": null
    }
  ],
)") != std::string::npos);
}
