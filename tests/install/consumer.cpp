// An out-of-tree program built against the installed hv (pkg-config), as
// a user's cloud agent would be. With CONNECT=embedded:// it needs libhv;
// with a unix:// URI the header-only SDK alone.
//   consumer URI [KERNEL]
#include <hv/sdk/connection.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    auto conn = hv::sdk::Connection::open(argv[1]);
    if (!conn) {
        std::printf("open failed: %s: %s\n", hv::errc_name(conn.error().code).data(), conn.error().message.c_str());
        return 1;
    }
    if (argc < 3) return 0;
    hv::sdk::CreateRequest req;
    req.config_text = std::string("name='consumer'\nmemory=16\nextra='poweroff'\nkernel='") + argv[2] + "'\n";
    auto dom = conn->create(req);
    if (!dom) {
        std::printf("create failed: %s\n", dom.error().message.c_str());
        return 1;
    }
    auto end = dom->wait(30000);
    std::printf("domain %u ended: %s\n", dom->id(), end && end->shutdown_reason ? hv::sdk::reason_name(*end->shutdown_reason) : "?");
    return end && end->shutdown_reason == hv::sdk::ShutdownReason::poweroff ? 0 : 1;
}
