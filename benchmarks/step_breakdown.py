"""Where a Keras JAX training step of the reference model spends its time, measured part by part.

Times, side by side in one process on the same pre-padded batches (post lengths
drawn like the real data, batch 32 x 1,100): Keras's own compiled training step
(`train_on_batch`) and the compiled forward + backward alone (`jax.value_and_grad`
of `stateless_call`). What the step spends beyond the gradients is the optimizer
update and Keras's own work. Also prints the temporary memory XLA gives each model's
compiled forward + backward. The fast path's step is also timed on batches of
padding only, where it computes no token: what is left is the floor of any
step that skips padding (the dense Adam update, zeroed gradient buffers,
Keras's own work), once with Adam and once with SGD. Memory freed by a step
is kept for the next, as `padzero bench` and `padzero reproduce` run.
Medians of interleaved rounds.

    KERAS_BACKEND=jax python benchmarks/step_breakdown.py [--steps 20] [--rounds 5]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

from padzero_study.runtime.allocator import reuse_freed_memory  # noqa: E402

reuse_freed_memory()  # before Keras starts XLA's threads

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from padzero_study.bench import SHAPE, compiled_reference_model, make_batches, synthetic_lengths  # noqa: E402
from padzero_study.runtime.machine import describe_machine  # noqa: E402

# (variant, fast path): Keras's Embedding, padzero's, and padzero's on the fast path (EmbeddingFlattenDense).
MODELS = {"baseline": ("baseline", False), "padzero": ("padzero", False), "padzero fast path": ("padzero", True)}


def in_batches(ids, labels):
    batch = SHAPE["batch_size"]
    return [(ids[i : i + batch], labels[i : i + batch]) for i in range(0, len(ids), batch)]


def keras_steps(model, batches):
    def run():
        for x, y in batches:
            model.train_on_batch(x, y)

    return run


def floor_parts(ids, labels):
    """The fast path's Keras step on batches that hold padding only, with Adam and with SGD."""
    padding_only = in_batches(np.zeros_like(ids), labels)
    return {
        f"Keras train step, batches of padding only, {name}": keras_steps(
            compiled_reference_model(*MODELS["padzero fast path"], optimizer()), padding_only
        )
        for name, optimizer in (("Adam", keras.optimizers.Adam), ("SGD", keras.optimizers.SGD))
    }


def parts_of(model_name, ids, labels):
    """{part: function running every batch once, blocking until done} for one model, and the MB of
    temporary buffers XLA gives its compiled forward + backward."""
    model = compiled_reference_model(*MODELS[model_name])
    batches = in_batches(ids, labels)

    def loss(trainable, non_trainable, x, y):
        probabilities, _ = model.stateless_call(trainable, non_trainable, x, training=True)
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, probabilities))

    gradients_of = jax.jit(jax.value_and_grad(loss))

    def forward_backward():
        # The live buffers: Keras's own step donates the ones it replaces.
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        for x, y in batches:
            jax.block_until_ready(gradients_of(trainable, non_trainable, x, y))

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    compiled = gradients_of.lower(trainable, non_trainable, *batches[0]).compile()
    parts = {
        "Keras train step (train_on_batch)": keras_steps(model, batches),
        "forward + backward (jit)": forward_backward,
    }
    if model_name == "padzero fast path":
        parts.update(floor_parts(ids, labels))
    return parts, compiled.memory_analysis().temp_size_in_bytes / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="batches per timed round (default: 20)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds, median reported (default: 5)")
    args = parser.parse_args()
    ids, labels = make_batches(synthetic_lengths(20_000), args.steps)
    cases, temporaries_mb = {}, {}
    for name in MODELS:
        parts, temporaries_mb[name] = parts_of(name, ids, labels)
        cases.update({(name, part): run for part, run in parts.items()})
    for run in cases.values():
        run()  # compile every shape before timing
    times = {case: [] for case in cases}
    for _ in range(args.rounds):
        for case, run in cases.items():  # round-robin: drift hits every case alike
            started = time.perf_counter()
            run()
            times[case].append((time.perf_counter() - started) / args.steps * 1e3)
    print(
        f"machine: {describe_machine()}; keras {keras.__version__}, jax {jax.__version__}; batch "
        f"{SHAPE['batch_size']} x {SHAPE['maxlen']}; medians of {args.rounds} rounds of {args.steps} steps"
    )
    print("| model | part | ms per step |\n|---|---|---:|")
    medians = {case: statistics.median(values) for case, values in times.items()}
    for (name, part), median in medians.items():
        print(f"| {name} | {part} | {median:.1f} |")
    for name in MODELS:
        rest = medians[(name, "Keras train step (train_on_batch)")] - medians[(name, "forward + backward (jit)")]
        print(f"| {name} | the rest: optimizer update and Keras's own work | {rest:.1f} |")
    print("\n| model | XLA temporaries of forward + backward |\n|---|---:|")
    for name, megabytes in temporaries_mb.items():
        print(f"| {name} | {megabytes:.1f} MB |")
    floor = medians[("padzero fast path", "Keras train step, batches of padding only, Adam")]
    baseline = medians[("baseline", "Keras train step (train_on_batch)")]
    print(
        f"\nA fast-path step that computes no token takes {floor:.1f} ms, {floor / baseline:.2f} of the baseline's "
        f"step: no step that skips padding, with Keras's Adam, runs faster than {baseline / floor:.2f}x the baseline here."
    )


if __name__ == "__main__":
    main()
