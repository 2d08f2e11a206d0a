"""Breaks padzero's layers one way at a time and checks that their tests notice.

Usage: KERAS_BACKEND is set per run: `python scripts/check_tests_catch_mutations.py torch [SOURCE]`,
where SOURCE (e.g. `flatten_dense`) limits the run to the sources whose path contains it.
Each source file is restored afterwards, whatever happens.
"""

import os
import subprocess
import sys

EMBEDDING_MUTATIONS = {
 "multiply instead of where (row)": ('return ops.where(is_padding_row, ops.zeros((), dtype=table.dtype), table)', 'return table * ops.cast(ops.logical_not(is_padding_row), table.dtype)'),
 "multiply instead of where (output)": ('return ops.where(is_padding, ops.zeros((), dtype=outputs.dtype), outputs)', 'return outputs * ops.cast(ops.logical_not(is_padding), outputs.dtype)'),
 "no init zeroing": ('self._embeddings.assign(self._zero_padding_row(ops.convert_to_tensor(self._embeddings)))', 'pass'),
 "mask uses 0": ('masked_id = 0 if self.padding_idx is None else self.padding_idx', 'masked_id = 0'),
 "no id check": ('self._check_ids(inputs)\n', 'pass\n'),
 "no padding_idx in config": ('return {**super().get_config(), "padding_idx": self.padding_idx}', 'return super().get_config()'),
 "no quantize override": ('super().quantize(mode, type_check=False, config=config)', 'super().quantize(mode, type_check=type_check, config=config)'),
 "int8 call not zeroed": ('outputs = super()._int8_call(ids, training=training)\n        if self.padding_idx is None:', 'outputs = super()._int8_call(ids, training=training)\n        if True:'),
 "gradient leaks to padding row": ('outputs = ops.take(self._zero_padding_row(ops.convert_to_tensor(table)), ids, axis=0)', 'table = ops.convert_to_tensor(table)\n            outputs = ops.take(table - ops.stop_gradient(table - self._zero_padding_row(table)), ids, axis=0)'),
 "truthiness of padding_idx": ('if padding_idx is not None:\n            if not', 'if padding_idx:\n            if not'),
 "no registration": ('@keras.saving.register_keras_serializable(package="padzero")\n', ''),
}
FAST_PATH_MUTATIONS = {
 "kernel rows of the first positions": ("kernel = self.kernel[(self.maxlen - length) * self.features :]", "kernel = self.kernel[: length * self.features]"),
 "trimmed batch drops a real column": ("width = ids.shape[1] - real_columns[0] if real_columns.size else 1", "width = ids.shape[1] - real_columns[0] - 1 if real_columns.size else 1"),
 "no bias": ("outputs = ops.add(outputs, self.bias)", "outputs = outputs"),
}
CASES = [
    ("src/padzero/embedding.py", ["tests/test_embedding.py"], EMBEDDING_MUTATIONS),
    ("src/padzero/flatten_dense.py", ["tests/test_flatten_dense.py", "tests/test_variants.py"],
     {k: v for k, v in FAST_PATH_MUTATIONS.items() if "trimmed" not in k}),
    ("src/padzero/batching.py", ["tests/test_batching.py", "tests/test_variants.py"],
     {k: v for k, v in FAST_PATH_MUTATIONS.items() if "trimmed" in k}),
]
backend = sys.argv[1] if len(sys.argv) > 1 else "torch"
only = sys.argv[2] if len(sys.argv) > 2 else ""  # e.g. "flatten_dense": only the sources whose path holds it
missed = 0
for source, test_files, mutations in CASES:
    if only not in source:
        continue
    original = open(source).read()
    try:
        for name, (old, new) in mutations.items():
            assert original.count(old) >= 1, f"mutation {name!r} no longer applies to {source}; update it"
            open(source, "w").write(original.replace(old, new, 1))
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:warnings", *test_files],
                capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": backend},
            )
            missed += result.returncode == 0
            print(f"{name:35s} -> {'CAUGHT' if result.returncode else 'MISSED'}: {result.stdout.strip().splitlines()[-1][:90]}", flush=True)
    finally:
        open(source, "w").write(original)
sys.exit(1 if missed else 0)
