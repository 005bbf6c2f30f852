"""Large freed allocations go back to the system (`tma.core.memory`, called by the app
factory): a password hash's 19 MiB, freed in a hashing thread, does not stay in the worker.

Each case runs in a fresh interpreter: the setting is process-wide and glibc's moving
threshold depends on what the process allocated before."""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the mmap threshold is glibc's"
)

# Three blocks the size of an argon2id hash's memory, written and freed in a thread (as the
# hashing threads do), then how many MiB the process kept.
SCRIPT = """
import sys, threading
from tma.core.memory import return_large_allocations
if sys.argv[1] == "fixed":
    assert return_large_allocations()
def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
def hash_like():
    for _ in range(3):
        block = bytearray(20 << 20)
        del block
before = rss_mib()
thread = threading.Thread(target=hash_like)
thread.start()
thread.join()
print(rss_mib() - before)
"""


def kept_mib(mode: str) -> int:
    result = subprocess.run(  # noqa: S603 - this interpreter, this file's script
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return int(result.stdout)


def test_memory_fixed_threshold_returns_a_hash_sized_block_when_freed():
    """With the threshold fixed, nothing of the three 20 MiB blocks stays; with glibc's
    moving threshold (the default) the second one comes from the thread's arena and stays."""
    assert kept_mib("fixed") < 4
    assert kept_mib("default") >= 16


def test_memory_app_factory_fixes_the_threshold():
    """`create_app` applies it: after building the app, a freed 20 MiB block is returned."""
    script = SCRIPT.replace(
        'if sys.argv[1] == "fixed":\n    assert return_large_allocations()',
        "from tma.main import create_app\ncreate_app()",
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, this file's script
        [sys.executable, "-c", script, "app"], capture_output=True, text=True, check=True
    )

    assert int(result.stdout) < 4
