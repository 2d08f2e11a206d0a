"""What machine a figure was measured on: timings mean little without it."""

import os
import platform
from pathlib import Path


def describe_machine():
    """CPU count and model, and memory, such as '2 x AMD EPYC 9B14, 23.4 GiB'."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = names[0] if names else model
    description = f"{os.cpu_count()} x {model}"
    memory = total_memory_bytes()
    return f"{description}, {memory / 2**30:.1f} GiB" if memory else description


def total_memory_bytes():
    """Physical memory in bytes, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
