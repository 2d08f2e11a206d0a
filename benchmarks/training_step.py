"""Milliseconds per Keras training step of the reference model on one backend.

Run once per backend: `KERAS_BACKEND=jax python benchmarks/training_step.py`. One warm-up fit,
then one timed epoch of 60 steps (batch 32, maxlen 1,100, 87 % pre-padding like the real data).
"""

import argparse
import time

import keras
import numpy as np

from padzero_study.models.variants import build_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="baseline", help="model variant (default: baseline)")
    parser.add_argument("--steps", type=int, default=60, help="timed steps (default: 60)")
    args = parser.parse_args()

    model = build_model(args.variant, vocab_size=20_001, maxlen=1_100)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20_001, (32 * args.steps, 1_100)).astype("int32")
    ids[:, :957] = 0  # 87 % padding, pre-padded
    labels = rng.integers(0, 20, 32 * args.steps)
    model.fit(ids[:64], labels[:64], batch_size=32, epochs=1, verbose=0)  # compile / warm up
    start = time.perf_counter()
    model.fit(ids, labels, batch_size=32, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    print(f"{keras.backend.backend()} {args.variant}: {seconds / args.steps * 1e3:.0f} ms/step")


if __name__ == "__main__":
    main()
