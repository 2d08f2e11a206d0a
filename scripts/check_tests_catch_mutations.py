"""Breaks padzero.Embedding one way at a time and checks that tests/test_embedding.py notices.

Usage: KERAS_BACKEND is set per run: `python scripts/check_tests_catch_mutations.py torch`.
The source file is restored afterwards, whatever happens.
"""

import os
import subprocess
import sys

SOURCE = "src/padzero/embedding.py"
orig = open(SOURCE).read()
mutations = {
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
backend = sys.argv[1] if len(sys.argv) > 1 else "torch"
missed = 0
try:
    for name, (old, new) in mutations.items():
        assert orig.count(old) >= 1, f"mutation {name!r} no longer applies; update it"
        open(SOURCE, "w").write(orig.replace(old, new, 1))
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:warnings", "tests/test_embedding.py"],
            capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": backend},
        )
        missed += result.returncode == 0
        print(f"{name:35s} -> {'CAUGHT' if result.returncode else 'MISSED'}: {result.stdout.strip().splitlines()[-1][:90]}", flush=True)
finally:
    open(SOURCE, "w").write(orig)
sys.exit(1 if missed else 0)
