"""The average model's bag layer: padzero.EmbeddingBag against Keras's masked pooling and PyTorch's nn.EmbeddingBag.

A shortcut to `padzero bench --parts bag`, which owns the measurement (`padzero_study.bench`, the bag part): at
the study's sizes, on every installed backend, the layer's forward + backward and the average model's training
step, each case in a process of its own, timed in turn; a table of ratios to Keras's pooling and to native
PyTorch, and JSON. Other flags pass through to the command.

    python benchmarks/embedding_bag.py [--steps 100] [--repeats 5] [--backends jax] [--out bag.json]
    python benchmarks/embedding_bag.py --steps 3 --repeats 1   (a check that it runs)
"""

import sys

from padzero_study import cli

if __name__ == "__main__":
    sys.exit(cli.main(["bench", "--parts", "bag", *sys.argv[1:]]))
