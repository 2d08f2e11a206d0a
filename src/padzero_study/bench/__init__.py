"""`padzero bench`: the layer, the reference model and the average model's bag timed side by side, in one run.

Every case runs in a process of its own (Keras picks its backend at import,
and a process's peak memory is then its own), on the same batches. The
layer part times its three layers interleaved in one process per backend. The
model part keeps one process per case alive and runs their timed repeats in
turn, round after round, so that drift in the machine's speed hits every case
alike. The bag part does the same for `padzero.EmbeddingBag`, Keras's masked
pooling and PyTorch's `nn.EmbeddingBag`, each case twice (the layer's forward
+ backward, the average model's training step), in a process of its own. Times
are medians of repeats after a warm-up that compiles every shape the timed
repeats will see.

The modules, read top to bottom: `cases` (the parts, cases, sizes, batches
and the plan of processes), `layer`, `model` and `bag` (what one worker
process measures; `many_steps` is the model part's JAX case of many steps per
dispatch), `workers` (both ends of a worker process), `driver` (`run_bench`),
`output` (--out checked and written) and `tables`. This package's names are
those the command line and the scripts under benchmarks/ use; a test that
patches a constant patches it in the module that reads it.

    python -m padzero_study.bench '<json of one measurement>'   (what the driver runs)
"""

from padzero_study.bench.cases import PARTS, SHAPE, BenchError, lengths_of, make_batches, synthetic_lengths
from padzero_study.bench.driver import check_choices, left_out, run_bench
from padzero_study.bench.layer import layer_gradient_function
from padzero_study.bench.model import compiled_reference_model
from padzero_study.bench.output import check_output_file, write_results
from padzero_study.bench.tables import format_table

__all__ = [
    "PARTS",
    "SHAPE",
    "BenchError",
    "check_choices",
    "check_output_file",
    "compiled_reference_model",
    "format_table",
    "layer_gradient_function",
    "left_out",
    "lengths_of",
    "make_batches",
    "run_bench",
    "synthetic_lengths",
    "write_results",
]
