// huge_pages.cc: see huge_pages.h.
#include "huge_pages.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#ifdef __linux__
#include <time.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#endif

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1's value; older headers lack the name
#endif

namespace ortn {

namespace {

constexpr uintptr_t kHuge = kHugePageBytes;
// A collapse takes about 1 ms here (a huge page found, 2 MiB copied). One that takes much longer
// means the kernel is compacting memory to find huge pages, and the next ones would too: the load
// stops collapsing rather than pay that per extent.
constexpr auto kSlowCollapse = std::chrono::milliseconds(10);

#ifdef __linux__
// Linux 6.1 or newer, built with THP, and THP not set to 'never' by the administrator (MADV_COLLAPSE
// itself would ignore 'never'; we do not).
bool DetectSupport() noexcept {
  utsname name{};
  if (uname(&name) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(name.release, "%d.%d", &major, &minor) != 2) return false;
  if (major < 6 || (major == 6 && minor < 1)) return false;
  if (sysconf(_SC_PAGESIZE) != 4096) return false;  // 2 MiB is the huge page of 4 KiB pages only
  std::FILE* file = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (file == nullptr) return false;
  char text[128] = {};
  const size_t read = std::fread(text, 1, sizeof text - 1, file);
  std::fclose(file);
  text[read] = '\0';
  return std::strstr(text, "[never]") == nullptr;
}

// Whether the extent's 512 pages are all resident: collapsing it then adds no memory.
bool FullyResident(uintptr_t extent) noexcept {
  unsigned char resident[kHuge / 4096];  // 4 KiB pages: DetectSupport
  if (mincore(reinterpret_cast<void*>(extent), kHuge, resident) != 0) return false;  // unmapped meanwhile
  for (size_t i = 0; i < sizeof resident; ++i)
    if ((resident[i] & 1) == 0) return false;
  return true;
}
#endif

}  // namespace

std::chrono::nanoseconds ThreadCpuTime() noexcept {
#ifdef __linux__
  timespec now{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0)
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
#endif
  return std::chrono::nanoseconds(0);
}

bool ModelFileMayFillHugePages(const char* path) noexcept {
  std::FILE* file = std::fopen(path, "rb");
  if (file == nullptr) return true;  // ONNX Runtime will say what is wrong with the path
  bool may = true;
  const long size = std::fseek(file, 0, SEEK_END) == 0 ? std::ftell(file) : -1;
  if (size >= 0 && static_cast<unsigned long>(size) < kHugePageBytes && std::fseek(file, 0, SEEK_SET) == 0) {
    try {
      std::string text(static_cast<size_t>(size), '\0');
      if (std::fread(text.data(), 1, text.size(), file) == text.size()) may = text.find("location") != std::string::npos;
    } catch (...) {  // bad_alloc: let the load try
    }
  }
  std::fclose(file);
  return may;
}

bool HugePagesSupported() noexcept {
#ifdef __linux__
  static const bool supported = DetectSupport();
  return supported;
#else
  return false;
#endif
}

AnonymousMappings AnonymousMappings::Read() noexcept {
  AnonymousMappings result;
#ifdef __linux__
  if (!HugePagesSupported()) return result;
  // /proc/self/maps, not smaps: smaps walks every page table for its sizes (2 ms in a bare Node
  // process, more in a large one); residency is asked of mincore, extent by extent, where it counts.
  std::FILE* file = std::fopen("/proc/self/maps", "r");
  if (file == nullptr) return result;
  try {
    char line[512];
    while (std::fgets(line, sizeof line, file) != nullptr) {
      const size_t length = std::strlen(line);
      const bool whole = length > 0 && line[length - 1] == '\n';
      unsigned long long start = 0, end = 0, offset = 0, inode = 0;
      char perms[8] = {};
      int name_at = 0;
      if (std::sscanf(line, "%llx-%llx %7s %llx %*x:%*x %llu %n", &start, &end, perms, &offset, &inode, &name_at) >= 5 &&
          std::strcmp(perms, "rw-p") == 0 && inode == 0) {
        const char* name = line + name_at;
        // Unnamed, the brk heap, or named by prctl(PR_SET_VMA_ANON_NAME); never the main stack.
        if (name[0] == '\n' || name[0] == '\0' || std::strncmp(name, "[heap]", 6) == 0 || std::strncmp(name, "[anon:", 6) == 0)
          result.mappings.push_back({static_cast<uintptr_t>(start), static_cast<uintptr_t>(end)});
      }
      // A line longer than the buffer (a long path): skip its rest.
      while (!whole && std::fgets(line, sizeof line, file) != nullptr) {
        const size_t more = std::strlen(line);
        if (more > 0 && line[more - 1] == '\n') break;
      }
    }
    result.readable = true;
  } catch (...) {  // bad_alloc from push_back: no collapse this time
    result.mappings.clear();
    result.readable = false;
  }
  std::fclose(file);
#endif
  return result;
}

HugePageResult CollapseGrownMappings(const AnonymousMappings& before, std::chrono::nanoseconds budget) noexcept {
  HugePageResult result;
#ifdef __linux__
  if (!HugePagesSupported() || !before.readable) return result;
  const AnonymousMappings after = AnonymousMappings::Read();
  if (!after.readable) return result;
  // The mappings that are new, or grew in place (a heap's brk, or its arena's writable part, moves
  // its end), by at least a huge page, with how much they grew: the load's weights sit in the
  // largest growth; what other threads mapped meanwhile (a Worker's buffers) is mostly smaller, and
  // comes last. Memory a load reuses inside an unchanged mapping is missed; it was most often
  // filled, and collapsed, by an earlier load, and a free in the middle of a heap leaves it resident.
  struct Grown {
    uintptr_t start, end, by;
  };
  std::vector<Grown> grown;
  try {
    for (const auto& mapping : after.mappings) {
      // /proc lists mappings in address order, so `before` is sorted by start.
      auto found = std::lower_bound(before.mappings.begin(), before.mappings.end(), mapping.start,
                                    [](const AnonymousMappings::Mapping& m, uintptr_t start) { return m.start < start; });
      const bool same_start = found != before.mappings.end() && found->start == mapping.start;
      const uintptr_t by = !same_start ? mapping.end - mapping.start : mapping.end > found->end ? mapping.end - found->end : 0;
      if (by >= kHuge) grown.push_back({mapping.start, mapping.end, by});
    }
  } catch (...) {  // bad_alloc
    return result;
  }
  std::stable_sort(grown.begin(), grown.end(), [](const Grown& a, const Grown& b) { return a.by > b.by; });
  const auto deadline = ThreadCpuTime() + budget;
  for (const Grown& mapping : grown) {
    for (uintptr_t extent = (mapping.start + kHuge - 1) & ~(kHuge - 1); extent + kHuge <= mapping.end; extent += kHuge) {
      if (!FullyResident(extent)) continue;
      const auto start = ThreadCpuTime();
      if (start > deadline) return result;
      const int status = madvise(reinterpret_cast<void*>(extent), kHuge, MADV_COLLAPSE);
      const int error = errno;
      if (status == 0) result.collapsed_bytes += kHuge;
      if (ThreadCpuTime() - start > kSlowCollapse) return result;  // the kernel is compacting
      if (status == 0) continue;
      if (error == ENOMEM) return result;            // no huge page to be had now: stop, do not churn
      if (error == EINVAL || error == EPERM) break;  // this mapping may not have THP (MADV_NOHUGEPAGE)
      // EAGAIN (a page was busy) and the rest: leave this extent.
    }
  }
#endif
  return result;
}

}  // namespace ortn
