// Kernel images for the kernel-loader tests: edits of an ELF64 kernel
// (hvbench::pvh_elf's, or any with PT_NOTE/PT_LOAD headers) that drop
// one of its notes or move its loadable segment, and a bzImage wrapped
// around a payload (bzimage_builder.hpp's header). Each edit works on the
// ELF's own headers, so it fails loudly (throws) on an image it cannot read.
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bzimage_builder.hpp"
#include "hv/abi/pvh.h"

namespace hvtest {

template <class T>
T elf_get(const std::vector<uint8_t>& v, uint64_t off) {
    if (off > v.size() || sizeof(T) > v.size() - off) throw std::runtime_error("ELF edit: read past the image");
    T t;
    std::memcpy(&t, v.data() + off, sizeof t);
    return t;
}

template <class T>
void elf_set(std::vector<uint8_t>& v, uint64_t off, const T& t) {
    if (off > v.size() || sizeof(T) > v.size() - off) throw std::runtime_error("ELF edit: write past the image");
    std::memcpy(v.data() + off, &t, sizeof t);
}

// Calls fn(phdr_offset, phdr) for every program header of `elf`.
template <class F>
void for_each_phdr(const std::vector<uint8_t>& elf, F fn) {
    const auto eh = elf_get<Elf64_Ehdr>(elf, 0);
    for (uint16_t i = 0; i < eh.e_phnum; ++i) {
        const uint64_t off = eh.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr);
        fn(off, elf_get<Elf64_Phdr>(elf, off));
    }
}

// Calls fn(note_offset, nhdr, name) for every note in the PT_NOTE segments.
template <class F>
void for_each_note(const std::vector<uint8_t>& elf, F fn) {
    for_each_phdr(elf, [&](uint64_t, const Elf64_Phdr& ph) {
        if (ph.p_type != PT_NOTE) return;
        uint64_t off = ph.p_offset;
        while (off + sizeof(Elf64_Nhdr) <= ph.p_offset + ph.p_filesz) {
            const auto nh = elf_get<Elf64_Nhdr>(elf, off);
            const uint64_t name = off + sizeof nh;
            if (name + nh.n_namesz > elf.size()) throw std::runtime_error("ELF edit: note name past the image");
            fn(off, nh, std::string(elf.begin() + static_cast<long>(name), elf.begin() + static_cast<long>(name + nh.n_namesz)));
            off = name + ((uint64_t{nh.n_namesz} + 3) & ~3ull) + ((uint64_t{nh.n_descsz} + 3) & ~3ull);
        }
    });
}

// Changes the type of every note named `owner` (with its NUL) of `type`
// to an unused one: the note is still there, but no longer means anything.
inline std::vector<uint8_t> retype_note(std::vector<uint8_t> elf, const std::string& owner, uint32_t type) {
    int found = 0;
    for_each_note(elf, [&](uint64_t off, Elf64_Nhdr nh, const std::string& name) {
        if (name != owner || nh.n_type != type) return;
        nh.n_type = 0x7fff;
        elf_set(elf, off, nh);
        ++found;
    });
    if (found == 0) throw std::runtime_error("ELF edit: no such note");
    return elf;
}

// The same kernel without hv's ABI note: a stock PVH kernel.
inline std::vector<uint8_t> without_hv_note(std::vector<uint8_t> elf) {
    return retype_note(std::move(elf), std::string(HV_ELFNOTE_OWNER, sizeof HV_ELFNOTE_OWNER), HV_ELFNOTE_ABI);
}

// The same kernel without the PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY).
inline std::vector<uint8_t> without_pvh_note(std::vector<uint8_t> elf) {
    return retype_note(std::move(elf), std::string("Xen\0", 4), HV_PVH_ELFNOTE_PHYS32_ENTRY);
}

// The kernel's first PT_LOAD moved to `paddr` with `memsz` bytes in memory
// (at least its file bytes), and the PVH entry pointing at its start.
inline std::vector<uint8_t> moved_to(std::vector<uint8_t> elf, uint64_t paddr, uint64_t memsz) {
    bool done = false;
    for_each_phdr(elf, [&](uint64_t off, Elf64_Phdr ph) {
        if (done || ph.p_type != PT_LOAD) return;
        ph.p_paddr = paddr;
        ph.p_memsz = memsz;
        if (ph.p_filesz > memsz) ph.p_filesz = memsz;
        elf_set(elf, off, ph);
        done = true;
    });
    if (!done) throw std::runtime_error("ELF edit: no PT_LOAD");
    for_each_note(elf, [&](uint64_t off, const Elf64_Nhdr& nh, const std::string& name) {
        if (name == std::string("Xen\0", 4) && nh.n_type == HV_PVH_ELFNOTE_PHYS32_ENTRY && nh.n_descsz == 4)
            elf_set(elf, off + sizeof nh + 4, static_cast<uint32_t>(paddr));
    });
    return elf;
}

// A bzImage (bzimage_builder.hpp's setup header, `b`'s fields) whose
// payload is exactly `payload` (payload_length covers all of it, the size
// suffix included).
inline std::vector<uint8_t> bzimage_around(const std::vector<uint8_t>& payload, BzImageBuilder b = {}) {
    b.payload = std::string(payload.begin(), payload.end());
    b.payload_length = 0;
    return b.build();
}

} // namespace hvtest
