"""Keeping freed memory for reuse, so that training steps stop paying for fresh pages.

XLA, JAX's compiler, allocates the temporaries of a compiled step afresh on
every call. For the reference model that is one block of about 100 MB,
requested from XLA's worker threads. glibc's malloc maps such a block from the
kernel and unmaps it when freed: it is above the size malloc serves from its
heap, and a worker thread's arena cannot grow that far. Every step then
faults in about 25,000 new pages. Told to use one arena, never to map, and to
keep what is freed, malloc hands the same pages back on the next step.
Measured on a 2-vCPU Intel Xeon, JAX, the fast path's Keras training step:
24,800 page faults and 62 ms per step by default, 830 and 45 ms with this
(`python -m padzero_study.runtime.allocator` shows the settings; `padzero bench`
measures every case under them).

The cost: memory a process has freed is not returned to the system until it
ends, so its resident size stays at its peak.
"""

import ctypes
import sys

_KEEP_ALL = 2**31 - 1  # the largest int: freed memory is never trimmed back to the system

# glibc tunable name: (its mallopt parameter, from glibc's <malloc.h>; the value)
SETTINGS = {"arena_max": (-8, 1), "mmap_max": (-4, 0), "trim_threshold": (-1, _KEEP_ALL)}
# The same, for a process started from a shell: GLIBC_TUNABLES=<this> python train.py
GLIBC_TUNABLES = ":".join(f"glibc.malloc.{name}={value}" for name, (_, value) in SETTINGS.items())


def reuse_freed_memory():
    """Tells glibc's malloc to keep freed memory for reuse (see the module's docstring).

    Call it before Keras is imported: threads that have allocated already keep their arenas.

    Returns:
        True when applied; False where it does not apply (not Linux with glibc), which changes nothing.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None)  # the C library this process already runs on
    if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: mallopt is absent or means something else
        return False
    return all(libc.mallopt(parameter, value) == 1 for parameter, value in SETTINGS.values())


if __name__ == "__main__":
    print(f"GLIBC_TUNABLES={GLIBC_TUNABLES}")
