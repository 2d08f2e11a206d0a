"""What machine a figure was measured on: timings mean little without it."""

import os
import platform
from pathlib import Path


def describe_machine():
    """CPU count and model, and memory, such as '2 x AMD EPYC 9B14, 23.4 GiB'."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
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


def training_device(backend):
    """`(kind, description)` of the device Keras trains on with `backend`, which must be the one Keras runs on.

    `kind` is `"cpu"`, `"gpu"` or `"tpu"`; `description` names the device, such as `"NVIDIA H200"`, or for a
    CPU the machine (`describe_machine()`). Keras places its work on the first accelerator a backend sees.
    """
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        kind, name = device.platform, device.device_kind
    elif backend == "torch":
        import torch

        available = torch.cuda.is_available()
        kind, name = ("gpu", torch.cuda.get_device_name(0)) if available else ("cpu", None)
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        kind = "gpu" if gpus else "cpu"
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else None
    else:
        raise ValueError(f"backend must be one of jax, tensorflow, torch; received backend={backend!r}")
    kind = "gpu" if kind in ("cuda", "rocm") else kind
    return kind, (describe_machine() if kind == "cpu" else name)
