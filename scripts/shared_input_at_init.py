"""The shared part of the Dense input at initialisation, for every diagnose setting and variant.

    python scripts/shared_input_at_init.py --data ../shared/data/20news-bydate.tar.gz > docs/diagnose-ablations/shared_input_at_init.md

`padzero.diagnostics.shared_input_l1` on the first 1,000 validation posts, of each run's initial
model (the same seeded weights `padzero diagnose` starts from). It needs no training, so it
also covers the runs recorded before the recorder measured it. Times Adam's learning rate it
bounds how far one step moves every post's hidden pre-activation at once.
"""

import argparse
import dataclasses

from padzero import study
from padzero.diagnostics import shared_input_l1

SETTINGS = {  # folder: (StudyConfig changes, variants), as in docs/diagnose and scripts/diagnose_ablations.sh
    "diagnose": ({}, ("baseline", "padzero", "uniform_nonneg")),
    "init-scale-0.005": ({"embedding_init_scale": 0.005}, ("baseline",)),
    "maxlen-300": ({"maxlen": 300}, ("baseline",)),
    "maxlen-600": ({"maxlen": 600}, ("baseline",)),
    "post": ({"padding": "post"}, ("baseline",)),
    "uniform": ({}, ("uniform", "uniform_unmasked", "uniform_nonneg_unmasked")),
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="20news-bydate.tar.gz or its extracted folder")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per variant (default: 2)")
    args = parser.parse_args()
    print("| folder | variant | seed | shared input L1 at init | × learning rate 0.001 |")
    print("|---|---|---:|---:|---:|")
    for name, (changes, variants) in SETTINGS.items():
        config = dataclasses.replace(study.StudyConfig(data_path=args.data), **changes)
        encoded = study.load_encoded_data(config)
        for variant in variants:
            for seed in range(args.seeds):
                model = study.build_run_model(config, encoded, variant, seed)
                shared = shared_input_l1(model, encoded.x_val[:1_000])
                print(f"| {name} | {variant} | {seed} | {shared:.0f} | {shared * 0.001:.2f} |", flush=True)
