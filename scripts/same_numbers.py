"""Checks that a change to the code left the study's numbers exactly as they were.

Runs `padzero reproduce --dataset synthetic` with the code of a base commit (checked out in a temporary git
worktree) and with the working tree, on each backend asked for, and compares every epoch's loss, accuracy,
val_loss and val_accuracy to the last digit. Then the working tree resumes the base's folder with one more
seed: a folder written before the change must still resume, keep its lines and report. Exits 1 on any
difference.

    python scripts/same_numbers.py 130d6f4                    # torch and jax (the issue-27 baseline)
    python scripts/same_numbers.py HEAD~3 --backends jax      # one backend
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def epoch_numbers(results_path):
    """{(variant, seed, epoch): (loss, accuracy, val_loss, val_accuracy)} from a results.jsonl."""
    numbers = {}
    for line in results_path.read_text().splitlines():
        record = json.loads(line)
        if record.get("record") == "epoch":
            numbers[(record["variant"], record["seed"], record["epoch"])] = tuple(record[name] for name in METRICS)
    return numbers


def run_study(source_root, backend, out_dir, *flags):
    """`padzero reproduce --dataset synthetic` with the package under `source_root/src`, on `backend`."""
    environment = {**os.environ, "PYTHONPATH": str(source_root / "src"), "KERAS_BACKEND": backend}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "padzero_study",
            "reproduce",
            "--dataset",
            "synthetic",
            "--backend",
            backend,
            "--out",
            str(out_dir),
            *flags,
        ],
        env=environment,
        check=True,
        cwd=source_root,
    )
    return epoch_numbers(out_dir / "results.jsonl")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the commit whose numbers the working tree must give")
    parser.add_argument("--backends", default="torch,jax", help="comma-separated (default: torch,jax)")
    args = parser.parse_args()
    differences = 0
    with tempfile.TemporaryDirectory() as scratch:
        base_tree = Path(scratch) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base_tree), args.base], cwd=ROOT, check=True, capture_output=True
        )
        try:
            for backend in args.backends.split(","):
                before = run_study(base_tree, backend, Path(scratch) / f"before-{backend}")
                after = run_study(ROOT, backend, Path(scratch) / f"after-{backend}")
                changed = [key for key in before.keys() | after.keys() if before.get(key) != after.get(key)]
                differences += len(changed)
                print(
                    f"{backend}: {len(before)} epochs before, {len(after)} after, {len(changed)} differ"
                    + "".join(f"\n  {key}: {before.get(key)} -> {after.get(key)}" for key in sorted(changed))
                )
                # The base's folder, resumed by the working tree with one more seed: its lines are kept as they were.
                resumed = run_study(ROOT, backend, Path(scratch) / f"before-{backend}", "--seeds", "2")
                kept = all(resumed.get(key) == value for key, value in before.items())
                new_seeds = {seed for _, seed, _ in resumed} - {seed for _, seed, _ in before}
                reported = (Path(scratch) / f"before-{backend}" / "report.md").is_file()
                resumes = kept and new_seeds == {1} and reported
                differences += not resumes
                print(
                    f"{backend}: the base's folder resumed with seed 1 added and its {len(before)} epochs kept: "
                    f"{'yes' if resumes else 'NO'}"
                )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=True)
    print("same numbers, and the base's folders resume" if not differences else f"{differences} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
