import json
import subprocess
import sys

import pytest

from padzero_study.runtime import allocator

# A 100 MB block, allocated, written and freed twice by a worker thread (as XLA's threads do with a
# step's temporaries); prints the page faults of the second time.
SECOND_BLOCK_FAULTS = """
import ctypes, json, resource, sys, threading
from padzero_study.runtime.allocator import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else None
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
size, faults = 100 * 2**20, []

def touch_twice():
    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(ctypes.c_void_p(block))
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)

thread = threading.Thread(target=touch_twice)
thread.start()
thread.join()
print(json.dumps({"applied": applied, "second_faults": faults[1], "pages": size // 4096}))
"""


def second_block(mode):
    completed = subprocess.run(
        [sys.executable, "-c", SECOND_BLOCK_FAULTS, mode], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout)


glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(__import__("ctypes").CDLL(None), "gnu_get_libc_version"),
    reason="the settings are glibc's",
)


@glibc_only
def test_by_default_a_freed_large_block_comes_back_as_fresh_pages():
    result = second_block("default")
    assert result["second_faults"] > result["pages"] * 0.9


@glibc_only
def test_reused_freed_memory_comes_back_without_page_faults():
    result = second_block("reuse")
    assert result["applied"] is True
    assert result["second_faults"] < result["pages"] * 0.05


def test_outside_glibc_nothing_is_changed(monkeypatch):
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.reuse_freed_memory() is False


@glibc_only
def test_the_shell_form_does_the_same_for_a_process_started_with_it(monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", allocator.GLIBC_TUNABLES)
    result = second_block("default")
    assert result["second_faults"] < result["pages"] * 0.05
