#include "config/guest_disks.hpp"

#include <cctype>

namespace hv::config {

std::optional<Vdev> parse_vdev(std::string_view v) {
    size_t prefix = 0;
    for (std::string_view p : {"xvd", "hd", "sd", "vd"})
        if (v.substr(0, p.size()) == p) {
            prefix = p.size();
            break;
        }
    if (prefix == 0) return std::nullopt;
    size_t i = prefix;
    while (i < v.size() && std::islower(static_cast<unsigned char>(v[i])) != 0) ++i;
    const size_t letters = i - prefix;
    if (letters == 0 || letters > 2 || (v.substr(0, 2) == "hd" && (letters > 1 || v[2] > 't'))) return std::nullopt;
    Vdev out{std::string(v.substr(0, i)), 0};
    if (i == v.size()) return out;
    if (v[i] == '0' || v.size() - i > 3) return std::nullopt;
    for (size_t k = i; k < v.size(); ++k) {
        if (std::isdigit(static_cast<unsigned char>(v[k])) == 0) return std::nullopt;
        out.partition = out.partition * 10 + static_cast<unsigned>(v[k] - '0');
    }
    if (out.partition > 255) return std::nullopt;
    return out;
}

uint32_t xen_devid(const Vdev& v) {
    const bool hd = v.disk.rfind("hd", 0) == 0;
    const size_t prefix = v.disk.rfind("xvd", 0) == 0 ? 3 : 2;
    uint32_t disk = 0;
    for (size_t i = prefix; i < v.disk.size(); ++i) disk = disk * 26 + static_cast<uint32_t>(v.disk[i] - 'a') + (i + 1 < v.disk.size() ? 1 : 0);
    if (hd) {
        static constexpr uint32_t kIdeMajors[] = {3, 22, 33, 34, 56, 57, 88, 89, 90, 91}; // parse_vdev: hda..hdt
        const uint32_t major = kIdeMajors[disk / 2];
        return major << 8 | (disk % 2) << 6 | v.partition;
    }
    if (v.disk.rfind("sd", 0) == 0 && disk < 16) return 8u << 8 | disk << 4 | v.partition;
    if (disk < 16) return 202u << 8 | disk << 4 | v.partition;
    return 1u << 28 | disk << 8 | v.partition;
}

std::string guest_disk_name(size_t index) {
    // Linux's virtio_blk: vda..vdz, then vdaa..vdzz (kMaxDisks keeps to the first).
    std::string s = "vd";
    if (index >= 26) s += static_cast<char>('a' + index / 26 - 1);
    s += static_cast<char>('a' + index % 26);
    return s;
}

RootMapping map_root(const std::string& cmdline, const std::vector<DiskSpec>& disks) {
    RootMapping out{cmdline, {}};
    // Linux splits its command line at whitespace and the last root= wins:
    // only that word is looked at.
    const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    size_t at = std::string::npos;
    for (size_t pos = 0; (pos = cmdline.find("root=", pos)) != std::string::npos; pos += 1)
        if (pos == 0 || space(cmdline[pos - 1])) at = pos;
    if (at == std::string::npos || cmdline.compare(at, 10, "root=/dev/") != 0) return out;
    const size_t name_at = at + 10;
    size_t end = name_at;
    while (end < cmdline.size() && !space(cmdline[end])) ++end;
    const std::string name = cmdline.substr(name_at, end - name_at);
    const auto root = parse_vdev(name);
    if (!root) return out;
    for (size_t i = 0; i < disks.size(); ++i) {
        const auto vdev = parse_vdev(disks[i].vdev);
        if (!vdev) continue;
        std::string guest;
        if (disks[i].vdev == name) {
            guest = guest_disk_name(i); // the disk itself
        } else if (vdev->partition == 0 && root->disk == disks[i].vdev && root->partition != 0) {
            guest = guest_disk_name(i) + std::to_string(root->partition);
        } else {
            continue;
        }
        if (guest == name) return out;
        out.cmdline = cmdline.substr(0, name_at) + guest + cmdline.substr(end);
        out.notice = "root=/dev/" + name + " names disk " + std::to_string(i + 1) + " ('" + disks[i].vdev +
                     "'), which the guest sees as virtio disk /dev/" + guest + ": the kernel is given root=/dev/" + guest;
        return out;
    }
    return out;
}

} // namespace hv::config
