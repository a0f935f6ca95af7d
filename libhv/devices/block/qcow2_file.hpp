// Qcow2File: the host file under a Qcow2Image, and the positioned I/O the
// image and its refcounts do on it. Opened as RawFile opens a disk (looked
// at with O_PATH first, then opened through the same inode), but only a
// regular file: qcow2 on a block device is not supported. Tracks the
// file's size as writes grow it, which is what every offset read from
// the image is checked against. Not locked: Qcow2Image's mutex covers it.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hv/result.hpp"
#include "platform/kvm/unique_fd.hpp"

namespace hv::dev {

class Qcow2File {
public:
    // Every error message starts with `label` (e.g. "disk 'PATH'", or for
    // a backing file the disk and the chain that led to it).
    static Result<Qcow2File> open(const std::string& path, bool read_only, std::string label);

    const std::string& path() const { return path_; }
    uint64_t size() const { return size_; }
    dev_t device() const { return dev_; }
    ino_t inode() const { return ino_; }

    // Reads `len` bytes at `offset`; what lies past the end of the file
    // reads as zeros (a table or cluster the file ends inside).
    Result<void> read(void* buf, size_t len, uint64_t offset) const;
    Result<void> readv(std::vector<iovec> v, uint64_t offset) const;
    Result<void> write(const void* buf, size_t len, uint64_t offset);
    Result<void> writev(std::vector<iovec> v, uint64_t offset);
    Result<void> sync();

    // "LABEL: what" as an I/O error.
    Error error(const std::string& what) const;
    const std::string& label() const { return label_; }

private:
    Qcow2File(kvm::UniqueFd fd, std::string path, std::string label, uint64_t size, dev_t dev, ino_t ino)
        : fd_(std::move(fd)), path_(std::move(path)), label_(std::move(label)), size_(size), dev_(dev), ino_(ino) {}
    Result<void> transfer(std::vector<iovec>& v, uint64_t offset, bool write) const;

    kvm::UniqueFd fd_;
    std::string path_;
    std::string label_;
    uint64_t size_;
    dev_t dev_;
    ino_t ino_;
};

} // namespace hv::dev
