#include "pvh_image.hpp"

#include "hv/abi/pvh.h"

#include <elf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "bench_util.hpp"

namespace hvbench {

std::vector<uint8_t> first_byte_code() {
    return {
        0x66, 0xba, 0xf8, 0x03, // mov $0x3f8, %dx
        0xb0, '!',              // mov $'!', %al
        0xee,                   // out %al, %dx
        0xfa,                   // cli
        0xf4,                   // hlt
    };
}

std::vector<uint8_t> pvh_elf(const std::vector<uint8_t>& code) {
    constexpr uint64_t kPhOff = sizeof(Elf64_Ehdr);
    constexpr uint64_t kNoteOff = kPhOff + 2 * sizeof(Elf64_Phdr);
    constexpr uint64_t kXenNote = sizeof(Elf64_Nhdr) + 4 + 4;  // header, "Xen\0", 4-byte entry
    constexpr uint64_t kNoteSize = kXenNote + sizeof(Elf64_Nhdr) + 4 + 4; // then hv's: "hv\0" padded, ABI version
    constexpr uint64_t kCodeOff = 0x1000;                      // p_offset == p_vaddr modulo p_align

    std::vector<uint8_t> out(kCodeOff + code.size(), 0);
    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = kPvhLoadAddr;
    eh.e_phoff = kPhOff;
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 2;
    std::memcpy(out.data(), &eh, sizeof eh);

    Elf64_Phdr ph[2]{};
    ph[0].p_type = PT_LOAD;
    ph[0].p_flags = PF_R | PF_W | PF_X;
    ph[0].p_offset = kCodeOff;
    ph[0].p_vaddr = ph[0].p_paddr = kPvhLoadAddr;
    ph[0].p_filesz = ph[0].p_memsz = code.size();
    ph[0].p_align = 0x1000;
    ph[1].p_type = PT_NOTE;
    ph[1].p_flags = PF_R;
    ph[1].p_offset = kNoteOff;
    ph[1].p_filesz = kNoteSize;
    ph[1].p_align = 4;
    std::memcpy(out.data() + kPhOff, ph, sizeof ph);

    const Elf64_Nhdr nh{4, 4, 18};
    const uint32_t entry = kPvhLoadAddr;
    std::memcpy(out.data() + kNoteOff, &nh, sizeof nh);
    std::memcpy(out.data() + kNoteOff + sizeof nh, "Xen", 4);
    std::memcpy(out.data() + kNoteOff + sizeof nh + 4, &entry, 4);
    // hv's ABI note: these images run on hv's PV machine.
    const Elf64_Nhdr hv{sizeof HV_ELFNOTE_OWNER, 4, HV_ELFNOTE_ABI};
    const uint32_t version = HV_ABI_VERSION;
    std::memcpy(out.data() + kNoteOff + kXenNote, &hv, sizeof hv);
    std::memcpy(out.data() + kNoteOff + kXenNote + sizeof hv, HV_ELFNOTE_OWNER, sizeof HV_ELFNOTE_OWNER);
    std::memcpy(out.data() + kNoteOff + kXenNote + sizeof hv + 4, &version, 4);

    std::memcpy(out.data() + kCodeOff, code.data(), code.size());
    return out;
}

TempFile::TempFile(const std::vector<uint8_t>& bytes) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir != nullptr && *dir != 0 ? dir : "/tmp") + "/hv-bench-XXXXXX.elf";
    const int fd = ::mkstemps(tmpl.data(), 4);
    if (fd < 0) die("cannot create a temporary file in " + tmpl + ": " + std::strerror(errno));
    path_ = tmpl;
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = std::strerror(errno);
            ::close(fd);
            ::unlink(path_.c_str());
            die("cannot write " + path_ + ": " + why);
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
}

TempFile::~TempFile() { ::unlink(path_.c_str()); }

} // namespace hvbench
