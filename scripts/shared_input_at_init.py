"""The shared part of the Dense input at initialisation, for every diagnose setting and variant.

    python scripts/shared_input_at_init.py --data ../shared/data/20news-bydate.tar.gz > docs/diagnose-ablations/shared_input_at_init.md

`padzero_study.diagnostics.recorder.shared_input_l1` on the first 1,000 validation posts, of each run's initial
model (the same seeded weights `padzero diagnose` starts from). It needs no training, so it
also covers the runs recorded before the recorder measured it. Times Adam's learning rate it
bounds how far the first step shifts a hidden unit's pre-activation the same way for every post. Beside
it: the pre-activations' measured std after step 1 in that folder's diagnostics.jsonl, and their ratio.
"""

import argparse
import dataclasses
from pathlib import Path

from padzero_study import results
from padzero_study.diagnostics.recorder import shared_input_l1
from padzero_study.study.encoded_data import load_encoded_data
from padzero_study.study.settings import StudyConfig
from padzero_study.study.training import build_run_model

SETTINGS = {  # folder: (StudyConfig changes, variants), as in docs/diagnose and scripts/diagnose_ablations.sh
    "diagnose": ({}, ("baseline", "padzero", "uniform_nonneg")),
    "init-scale-0.005": ({"embedding_init_scale": 0.005}, ("baseline",)),
    "maxlen-300": ({"maxlen": 300}, ("baseline",)),
    "maxlen-600": ({"maxlen": 600}, ("baseline",)),
    "post": ({"padding": "post"}, ("baseline",)),
    "uniform": ({}, ("uniform", "uniform_unmasked", "uniform_nonneg_unmasked")),
}


def measured_std_after_step_1(folder, variant, seed):
    path = Path("docs/diagnose" if folder == "diagnose" else f"docs/diagnose-ablations/{folder}") / "diagnostics.jsonl"
    lines = results.load_diagnostics(path) if path.exists() else []
    found = [r["pre_activation_std"] for r in lines if (r["variant"], r["seed"], r["step"]) == (variant, seed, 1)]
    return found[0] if found else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="20news-bydate.tar.gz or its extracted folder")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per variant (default: 2)")
    args = parser.parse_args()
    print(
        "| folder | variant | seed | shared input L1 at init | × learning rate 0.001 | measured std after step 1 | ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, (changes, variants) in SETTINGS.items():
        config = dataclasses.replace(StudyConfig(data_path=args.data), **changes)
        encoded = load_encoded_data(config)
        for variant in variants:
            for seed in range(args.seeds):
                model = build_run_model(config, encoded, variant, seed)
                shared = shared_input_l1(model, encoded.x_val[:1_000])
                measured = measured_std_after_step_1(name, variant, seed)
                ratio = "–" if measured is None else f"{measured / (shared * 0.001):.2f}"
                measured = "–" if measured is None else f"{measured:.2f}"
                print(
                    f"| {name} | {variant} | {seed} | {shared:.0f} | {shared * 0.001:.2f} | {measured} | {ratio} |",
                    flush=True,
                )
