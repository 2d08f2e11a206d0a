"""Why the JAX fast path gains less than its work saved: XLA CPU and a gather feeding a sliced-kernel matmul.

`KERAS_BACKEND=jax python benchmarks/xla_gather_matmul.py` times, in one process, the
forward of `take(table, ids) -> reshape -> matmul(kernel[start:])` at the fast
path's shapes (batch 32, 700 of 1,100 positions kept, 300 features, 25 units),
whole and in pieces. Medians of 15 calls after one warm-up.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np


def median_ms(function, *args, repeats=15):
    jax.block_until_ready(function(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main():
    rng = np.random.default_rng(0)
    table = jnp.asarray(rng.normal(size=(20_001, 300)).astype("float32"))
    kernel = jnp.asarray(rng.normal(size=(1_100 * 300, 25)).astype("float32"))
    start = (1_100 - 700) * 300
    ids = jnp.asarray(rng.integers(1, 20_001, size=(32, 700)).astype("int32"))
    embedded = jnp.take(table, ids, axis=0)
    kernel_slice = kernel[start:]
    cases = {
        "gather alone": (jax.jit(lambda t, i: jnp.take(t, i, axis=0)), table, ids),
        "matmul alone (embeddings given, kernel sliced inside)": (
            jax.jit(lambda e, k: e.reshape(32, -1) @ k[start:]),
            embedded,
            kernel,
        ),
        "gather + matmul, kernel slice given": (
            jax.jit(lambda t, i, k: jnp.take(t, i, axis=0).reshape(32, -1) @ k),
            table,
            ids,
            kernel_slice,
        ),
        "gather + matmul, kernel sliced inside (the fast path)": (
            jax.jit(lambda t, i, k: jnp.take(t, i, axis=0).reshape(32, -1) @ k[start:]),
            table,
            ids,
            kernel,
        ),
    }
    print(f"jax {jax.__version__}, {jax.device_count()} device(s)")
    for name, (function, *args) in cases.items():
        print(f"  {name:58s} {median_ms(function, *args):6.1f} ms")


if __name__ == "__main__":
    main()
