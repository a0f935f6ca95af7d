// The smallest PVH kernel: an ELF64 with one PT_LOAD at 1 MiB and the PVH
// entry note, written to a temporary file that goes away with the object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hvbench {

constexpr uint32_t kPvhLoadAddr = 0x100000;

// 32-bit code: mov $0x3f8,%dx; mov $'!',%al; out %al,%dx; cli; hlt. The
// byte reaches the 16550's transmit register with its first exit.
std::vector<uint8_t> first_byte_code();

// ELF64 bytes: PT_LOAD of `code` at kPvhLoadAddr, PT_NOTE with the "Xen"
// note type 18 (XEN_ELFNOTE_PHYS32_ENTRY) holding the 4-byte entry
// kPvhLoadAddr.
std::vector<uint8_t> pvh_elf(const std::vector<uint8_t>& code);

// A file under $TMPDIR (or /tmp) holding `bytes`; removed by the destructor.
class TempFile {
public:
    explicit TempFile(const std::vector<uint8_t>& bytes);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

} // namespace hvbench
