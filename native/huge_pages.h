// huge_pages.h: after a model load, the memory the load filled is remapped onto transparent huge
// pages (Linux's MADV_COLLAPSE), so that a run reading the weights takes a TLB miss per 2 MiB
// instead of per 4 KiB, and the hardware prefetcher is not stopped at every 4 KiB page boundary.
//
// Why: a model whose weights are larger than the caches (an LSTM or a small-batch transformer:
// matrix-vector products) streams its weights from memory on every run. Measured on the bench's
// silero-like model (10.8 MB of weights, 2-core EPYC VM, one interleaved run): ONNX Runtime's own
// Run from C++ 902 -> 728 µs, ort-napi's run() 1,052 -> 969 µs. ONNX Runtime allocates the weights (and the packed copies its kernels make of them) with
// malloc on the loading thread, and offers no way to place them, so the load is bracketed instead:
// a snapshot of the process's anonymous mappings before, and after it, every 2 MiB extent of a
// mapping that the load created or grew is collapsed where all its pages are already resident.
//
// What it never does: add memory (an extent with a page not resident is left alone, so no page is
// filled in), change what memory holds (a collapse copies the pages into a huge page and maps it
// at the same addresses, as the kernel's khugepaged does in the background on any process where
// THP is 'always'), or change later allocations' policy (no MADV_HUGEPAGE). Where the kernel
// cannot collapse (before 6.1, THP 'never', not Linux) nothing happens and the load is unaffected.
// An extent it collapses may hold other data of the process that the load's window saw grow (a
// thread's malloc arena is shared; a Worker's buffers mapped meanwhile): that data gets the same
// harmless remapping. What it costs is bounded: the largest growth goes first, the CPU time spent
// is at most a quarter of the load's own (20 ms at least), and a collapse slow enough to show the
// kernel compacting memory ends it. In a process where a Worker churned 2 MB buffers beside twelve
// loads, unbounded collapsing took 712 ms of a 774 ms run.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ortn {

// The huge page of x86-64's and arm64's 4 KiB pages; the only size this collapses to.
constexpr size_t kHugePageBytes = size_t{2} << 20;

// The process's private, writable, anonymous mappings, in address order.
class AnonymousMappings {
 public:
  // Reads /proc/self/maps; empty where it cannot be read (not Linux, a sandbox without /proc) or
  // where collapsing is not supported.
  static AnonymousMappings Read() noexcept;

  struct Mapping {
    uintptr_t start = 0, end = 0;
  };
  std::vector<Mapping> mappings;
  bool readable = false;
};

struct HugePageResult {
  size_t collapsed_bytes = 0;  // in extents the kernel collapsed (or found already huge)
};

// Whether loading the model file at `path` could fill a huge page's worth of memory: it is 2 MiB or
// more, or it names a "location" (external data in files beside it), or it cannot be read here.
bool ModelFileMayFillHugePages(const char* path) noexcept;

// Whether this process can collapse at all: Linux 6.1 or newer with 4 KiB pages and transparent
// huge pages built in and not set to 'never'. Read once. Where the kernel still refuses a mapping
// (EINVAL: MADV_NOHUGEPAGE on it; EPERM: a seccomp filter), that mapping is skipped.
bool HugePagesSupported() noexcept;

// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID; 0 where there is none). The collapse's
// costs are counted in it, not in wall time: a collapse is the calling thread's own work in the
// kernel (the copy, and any compaction to find a huge page), and on a busy machine wall time would
// count the time other threads held the CPU as well.
std::chrono::nanoseconds ThreadCpuTime() noexcept;

// Collapses the fully resident 2 MiB extents of the mappings that appeared or grew by at least
// 2 MiB since `before`, the largest growth first, until `budget` of this thread's CPU time is
// spent or one collapse shows the kernel compacting (over 10 ms of it). Any thread; never throws;
// best effort (an extent the kernel declines is left as it is).
HugePageResult CollapseGrownMappings(const AnonymousMappings& before, std::chrono::nanoseconds budget) noexcept;

// What a load that took `load` of its thread's CPU time may spend collapsing: a quarter of it,
// 20 ms at least.
inline std::chrono::nanoseconds CollapseBudget(std::chrono::nanoseconds load) noexcept {
  return std::max<std::chrono::nanoseconds>(std::chrono::milliseconds(20), load / 4);
}

}  // namespace ortn
