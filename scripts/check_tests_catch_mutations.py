"""Breaks padzero's layers one way at a time and checks that their tests notice.

Usage: KERAS_BACKEND is set per run: `python scripts/check_tests_catch_mutations.py torch [SOURCE]`,
where SOURCE (e.g. `block_dense`) limits the run to the sources whose path contains it.
Each source file is restored afterwards, whatever happens.
"""

import os
import subprocess
import sys

EMBEDDING_MUTATIONS = {
    "no init zeroing": (
        "self._embeddings.assign(self.table_with_zero_padding_row(ops.convert_to_tensor(self._embeddings)))",
        "pass",
    ),
    "mask uses 0": ("masked_id = 0 if self.padding_idx is None else self.padding_idx", "masked_id = 0"),
    "no padding_idx in config": (
        'return {**super().get_config(), "padding_idx": self.padding_idx}',
        "return super().get_config()",
    ),
    "no quantize override": (
        "super().quantize(mode, type_check=False, config=config)",
        "super().quantize(mode, type_check=type_check, config=config)",
    ),
    "int8 call not zeroed": (
        "outputs = super()._int8_call(ids, training=training)\n        if self.padding_idx is None:",
        "outputs = super()._int8_call(ids, training=training)\n        if True:",
    ),
    "gradient leaks to padding row": (
        "outputs = ops.take(self.table_with_zero_padding_row(ops.convert_to_tensor(table)), ids, axis=0)",
        "table = ops.convert_to_tensor(table)\n            outputs = ops.take(table - ops.stop_gradient(table - self.table_with_zero_padding_row(table)), ids, axis=0)",
    ),
    "truthiness of padding_idx": (
        "if padding_idx is not None and is_integer(input_dim) and input_dim > 0:",
        "if padding_idx and is_integer(input_dim) and input_dim > 0:",
    ),
    "no registration": ('@keras.saving.register_keras_serializable(package="padzero")\n', ""),
}
PADDING_MUTATIONS = {
    "multiply instead of where (row)": (
        "return ops.where(is_padding_row, ops.zeros((), dtype=table.dtype), table)",
        "return table * ops.cast(ops.logical_not(is_padding_row), table.dtype)",
    ),
    "multiply instead of where (output)": (
        "return ops.where(is_padding, ops.zeros((), dtype=outputs.dtype), outputs)",
        "return outputs * ops.cast(ops.logical_not(is_padding), outputs.dtype)",
    ),
}
IDS_MUTATIONS = {
    "no host id check": ("if host.size and _bad_id_mask(host, self.input_dim).any():", "if False:"),
}
BLOCK_DENSE_BASE_MUTATIONS = {
    "a block's first position ignored": (
        "[ops.any(ops.not_equal(ids[:, start:stop], padding_idx), axis=1) for start, stop in bounds]",
        "[ops.any(ops.not_equal(ids[:, start + 1:stop], padding_idx), axis=1) for start, stop in bounds]",
    ),
}
BLOCK_DENSE_MUTATIONS = {
    "ids' shape unchecked": ("    check_ids_shape(ids.shape, maxlen)  # static shapes", "    pass  # static shapes"),
    "skipped blocks add no padding vector": (
        "outputs = outputs + ops.matmul(idle, padding_block_outputs(table, kernel_blocks, bounds, padding_idx))",
        "outputs = outputs",
    ),
}
JAX_MUTATIONS = {
    "groups rounded down": (
        "groups = (jnp.sum(active, axis=0, dtype=jnp.int32) + group - 1) // group",
        "groups = jnp.sum(active, axis=0, dtype=jnp.int32) // group",
    ),
    "padding row gets gradient": ("if zero_padding:  # the padding row gets no gradient", "if False:"),
    "skipped rows add no padding vector": (
        "outputs = outputs + idle @ padding_block_outputs(table, kernel_blocks, bounds, padding_idx)",
        "outputs = outputs",
    ),
}
LAYER_MUTATIONS = {
    "no bias": ("outputs = ops.add(outputs, self.bias)", "outputs = outputs"),
    "a LoRA or quantized embedding read at call": ("        _refuse_lora_and_quantization(self.embedding)\n", "\n"),
    "set_weights loads every block from the start": (
        "variable.assign(kernel[start * self.features : stop * self.features].reshape(variable.shape))",
        "variable.assign(kernel[: (stop - start) * self.features].reshape(variable.shape))",
    ),
}
FAST_PATH_TESTS = ["tests/padzero/test_block_dense.py", "tests/padzero/test_embedding_flatten_dense.py"]
CASES = [
    ("src/padzero/embedding.py", ["tests/padzero/test_embedding.py"], EMBEDDING_MUTATIONS),
    ("src/padzero/padding.py", ["tests/padzero/test_embedding.py"], PADDING_MUTATIONS),
    ("src/padzero/ids.py", ["tests/padzero/test_embedding.py"], IDS_MUTATIONS),
    ("src/padzero/_block_dense_base.py", FAST_PATH_TESTS, BLOCK_DENSE_BASE_MUTATIONS),
    ("src/padzero/block_dense.py", FAST_PATH_TESTS, BLOCK_DENSE_MUTATIONS),
    ("src/padzero/_block_dense_jax.py", FAST_PATH_TESTS, JAX_MUTATIONS),  # reached on the jax backend only
    ("src/padzero/embedding_flatten_dense.py", FAST_PATH_TESTS, LAYER_MUTATIONS),
]
backend = sys.argv[1] if len(sys.argv) > 1 else "torch"
only = sys.argv[2] if len(sys.argv) > 2 else ""  # e.g. "block_dense": only the sources whose path holds it
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
                capture_output=True,
                text=True,
                env={**os.environ, "KERAS_BACKEND": backend},
            )
            missed += result.returncode == 0
            print(
                f"{name:35s} -> {'CAUGHT' if result.returncode else 'MISSED'}: {result.stdout.strip().splitlines()[-1][:90]}",
                flush=True,
            )
    finally:
        open(source, "w").write(original)
sys.exit(1 if missed else 0)
