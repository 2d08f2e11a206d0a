"""Forward + backward time of ways to zero padding embeddings, at the reference shapes.

Run once per backend, e.g. `KERAS_BACKEND=torch python benchmarks/embedding_formulations.py`.
Times are medians of repeated steps after warm-up, in the way Keras trains on
each backend: XLA-compiled on jax and tensorflow, eager on torch. Ratios are to
`keras.layers.Embedding` measured in the same process.
"""

import argparse
import statistics
import time

import keras
import numpy as np
from keras import ops

import padzero
from padzero_study.bench import layer_gradient_function  # compiled as Keras compiles on each backend


class TableWhereEmbedding(keras.layers.Embedding):
    """Candidate formulation: zero the padding row of the table before the lookup."""

    def call(self, inputs):
        table = ops.convert_to_tensor(self.embeddings)
        is_padding_row = ops.expand_dims(ops.arange(self.input_dim) == 0, -1)
        table = ops.where(is_padding_row, ops.zeros((), dtype=table.dtype), table)
        return ops.take(table, ops.cast(inputs, "int32"), axis=0)


class OutputWhereEmbedding(keras.layers.Embedding):
    """Candidate formulation: zero the padded positions of the lookup's output."""

    def call(self, inputs):
        ids = ops.cast(inputs, "int32")
        outputs = ops.take(self.embeddings, ids, axis=0)
        is_padding = ops.expand_dims(ops.equal(ids, 0), -1)
        return ops.where(is_padding, ops.zeros((), dtype=outputs.dtype), outputs)


class MultiplyEmbedding(keras.layers.Embedding):
    """The reference workaround: embeddings times a float mask (not exact for NaN/inf rows)."""

    def call(self, inputs):
        outputs = super().call(inputs)
        return outputs * ops.expand_dims(ops.cast(ops.not_equal(inputs, 0), outputs.dtype), -1)


def interleaved_median_seconds(functions, args, repeats, warmup=5):
    """Median seconds per call of each function, timed round-robin so drift hits all alike."""
    for function in functions.values():
        for _ in range(warmup):
            function(*args)
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function(*args)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=20_001, help="table rows (default 20,001)")
    parser.add_argument("--dim", type=int, default=300, help="embedding size (default 300)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--length", type=int, default=1_100, help="ids per example (default 1,100)")
    parser.add_argument("--repeats", type=int, default=30, help="timed steps (default 30)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    # 87 % padding, pre-padded, like the reference data (../shared/FACTS.md).
    lengths = rng.integers(1, int(args.length * 0.26), size=args.batch)
    ids = np.zeros((args.batch, args.length), dtype="int32")
    for row, length in enumerate(lengths):
        ids[row, -length:] = rng.integers(1, args.vocab, size=length)
    upstream = rng.standard_normal((args.batch, args.length, args.dim)).astype("float32")
    ids_tensor, upstream_tensor = ops.convert_to_tensor(ids), ops.convert_to_tensor(upstream)

    candidates = {
        "keras.layers.Embedding": keras.layers.Embedding,
        "padzero.Embedding (as shipped)": padzero.Embedding,
        "where on table rows": TableWhereEmbedding,
        "where on output positions": OutputWhereEmbedding,
        "mask x multiply": MultiplyEmbedding,
    }
    functions = {}
    for name, layer_class in candidates.items():
        layer = layer_class(args.vocab, args.dim)
        layer.build((args.batch, args.length))
        functions[name] = layer_gradient_function(layer, multiply_by_mask=False)
    results = interleaved_median_seconds(functions, (ids_tensor, upstream_tensor), args.repeats)
    base = results["keras.layers.Embedding"]
    print(f"backend={keras.backend.backend()} vocab={args.vocab} dim={args.dim} batch={args.batch}x{args.length}")
    for name, seconds in results.items():
        print(f"  {name:40s} {seconds * 1e3:8.2f} ms  {seconds / base:5.2f}x")


if __name__ == "__main__":
    main()
