"""Where a Keras JAX training step of the reference model spends its time, measured part by part.

Times, side by side in one process on the same pre-padded batches (post lengths
drawn like the real data, batch 32 x 1,100): Keras's own compiled training step
(`train_on_batch`) and the compiled forward + backward alone (`jax.value_and_grad`
of `stateless_call`). What the step spends beyond the gradients is the optimizer
update and Keras's own work. Medians of interleaved rounds.

    KERAS_BACKEND=jax python benchmarks/step_breakdown.py [--steps 20] [--rounds 5]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import keras  # noqa: E402

from padzero_study.bench import SHAPE, make_batches, synthetic_lengths  # noqa: E402
from padzero_study.machine import describe_machine  # noqa: E402
from padzero_study.variants import build_model  # noqa: E402


# (variant, fast path): Keras's Embedding, padzero's, and padzero's on the fast path (EmbeddingFlattenDense).
MODELS = {"baseline": ("baseline", False), "padzero": ("padzero", False), "padzero fast path": ("padzero", True)}


def parts_of(model_name, ids, labels):
    """{part: function running every batch once, blocking until done} for one model."""
    variant, fast_path = MODELS[model_name]
    keras.utils.set_random_seed(0)
    model = build_model(variant, vocab_size=SHAPE["vocab_size"], maxlen=SHAPE["maxlen"], fast_path=fast_path)
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    batch = SHAPE["batch_size"]
    batches = [(ids[i : i + batch], labels[i : i + batch]) for i in range(0, len(ids), batch)]

    def loss(trainable, non_trainable, x, y):
        probabilities, _ = model.stateless_call(trainable, non_trainable, x, training=True)
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, probabilities))

    gradients_of = jax.jit(jax.value_and_grad(loss))

    def keras_step():
        for x, y in batches:
            model.train_on_batch(x, y)

    def forward_backward():
        # The live buffers: Keras's own step donates the ones it replaces.
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        for x, y in batches:
            jax.block_until_ready(gradients_of(trainable, non_trainable, x, y))

    return {"Keras train step (train_on_batch)": keras_step, "forward + backward (jit)": forward_backward}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="batches per timed round (default: 20)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds, median reported (default: 5)")
    args = parser.parse_args()
    ids, labels = make_batches(synthetic_lengths(20_000), args.steps)
    cases = {(name, part): run for name in MODELS for part, run in parts_of(name, ids, labels).items()}
    for run in cases.values():
        run()  # compile every shape before timing
    times = {case: [] for case in cases}
    for _ in range(args.rounds):
        for case, run in cases.items():  # round-robin: drift hits every case alike
            started = time.perf_counter()
            run()
            times[case].append((time.perf_counter() - started) / args.steps * 1e3)
    print(f"machine: {describe_machine()}; keras {keras.__version__}, jax {jax.__version__}; batch "
          f"{SHAPE['batch_size']} x {SHAPE['maxlen']}; medians of {args.rounds} rounds of {args.steps} steps")
    print("| model | part | ms per step |\n|---|---|---:|")
    medians = {case: statistics.median(values) for case, values in times.items()}
    for (name, part), median in medians.items():
        print(f"| {name} | {part} | {median:.1f} |")
    for name in MODELS:
        rest = medians[(name, "Keras train step (train_on_batch)")] - medians[(name, "forward + backward (jit)")]
        print(f"| {name} | the rest: optimizer update and Keras's own work | {rest:.1f} |")


if __name__ == "__main__":
    main()
