"""Large freed allocations go back to the operating system (glibc).

glibc serves an allocation above its mmap threshold (128 KiB at start) with its own
`mmap`, unmapped when freed. But the threshold moves: each time such a block is freed, glibc
raises it to that block's size, so the next one as large comes from a heap arena and stays
there when freed. argon2id takes 19 MiB per password hash, in the hashing threads, each
with its own arena: after the first logins every worker kept about 19 MiB per hashing
thread for good, and a large list response kept its buffers the same way
(docs/performance.md, "Memory"). A fixed threshold turns that off: a block of 1 MiB or
more is always mapped on its own and returned when freed, at the price of a `mmap` and its
page faults each time: under `make bench`'s login flood, 80 logins a second instead of 98.
"""

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # mallopt parameter number, from glibc's <malloc.h>
MMAP_THRESHOLD_BYTES = 1 << 20


def return_large_allocations(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes for this process; True if it took.
    Elsewhere (another C library, another system) nothing changes and it returns False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no C library found, or one without mallopt (musl)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
