// Integration tests boot real guests on KVM. Without /dev/kvm they skip
// (exit 77, which meson reports as SKIP) and say why.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
    const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        std::perror("skipping the KVM integration tests: /dev/kvm");
        return 77;
    }
    ::close(fd);
    return Catch::Session().run(argc, argv);
}
