// ImageSource: the bytes of a kernel or initrd, read where they are needed.
// A file is read with pread straight into guest RAM, segment by segment:
// no copy of the whole file in the monitor (Debian's vmlinux is 66 MB; a
// zero-filled buffer and a second copy cost over a second of boot under
// nested KVM), and nothing mapped that a truncation could turn into
// SIGBUS. Tests, fuzzers and decompressed payloads use SpanImage.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hv/result.hpp"

namespace hv::boot {

class ImageSource {
public:
    virtual ~ImageSource() = default;
    // Fixed when the source is made: a file that shrinks later makes
    // read() fail, never returns less.
    virtual uint64_t size() const = 0;
    // Exactly `len` bytes from `offset` into `dst`, or an error naming the
    // image. The caller keeps [offset, offset + len) within size().
    virtual Result<void> read(uint64_t offset, void* dst, uint64_t len) const = 0;
    // All of it, for the formats that need the whole image at once (a
    // bzImage's compressed payload).
    Result<std::vector<uint8_t>> read_all() const;
};

// Bytes already in memory; they must outlive the SpanImage.
class SpanImage final : public ImageSource {
public:
    explicit SpanImage(std::span<const uint8_t> bytes) : bytes_(bytes) {}
    uint64_t size() const override { return bytes_.size(); }
    Result<void> read(uint64_t offset, void* dst, uint64_t len) const override;

private:
    std::span<const uint8_t> bytes_;
};

// A regular file, opened once (O_NONBLOCK, so a FIFO swapped in cannot
// hang the open; fstat on the same fd, so what is checked is what is
// read). Errors name `what` ("kernel", "ramdisk") and the path.
class FileImage final : public ImageSource {
public:
    static Result<std::shared_ptr<const FileImage>> open(const std::string& path, std::string_view what);
    ~FileImage() override;
    FileImage(const FileImage&) = delete;
    FileImage& operator=(const FileImage&) = delete;

    uint64_t size() const override { return size_; }
    Result<void> read(uint64_t offset, void* dst, uint64_t len) const override;

private:
    FileImage(int fd, uint64_t size, std::string label) : fd_(fd), size_(size), label_(std::move(label)) {}
    int fd_;
    uint64_t size_;
    std::string label_; // "kernel /path"
};

} // namespace hv::boot
