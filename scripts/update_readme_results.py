"""Rewrites README.md's study results table (and its run count) from docs/study/summary.csv.

Run after `padzero report docs/study`: `python scripts/update_readme_results.py`.
The reference's numbers in brackets come from `padzero.report.REFERENCE`.
"""

import csv
import json
import math
import re
from pathlib import Path

from padzero_study.report import REFERENCE

ROOT = Path(__file__).resolve().parents[1]
TABLE_HEADER = "| variant | seeds | epoch-1 val acc (reference) | best val acc (reference) | best epoch | epochs at chance (< 0.10) / epochs run |"


def mean_and_spread(row, key):
    mean, std = float(row[f"{key}_mean"]), float(row[f"{key}_std"])
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def one_decimal(text):
    """'7.666' -> '7.7', '13.0' -> '13': means over seeds, to one decimal."""
    return f"{round(float(text), 1):g}"


def reference(variant, key, fallback="—"):
    value = REFERENCE.get(variant, {}).get(key)
    return fallback if value is None else f"{value:g}" if isinstance(value, int) else f"{value:.3f}"


def table_rows(summary_path):
    rows = []
    for row in csv.DictReader(summary_path.open()):
        variant = row["variant"]
        chance = f"{one_decimal(row['epochs_at_chance_mean'])} / {one_decimal(row['epochs_run_mean'])}"
        if "epochs_at_chance" in REFERENCE.get(variant, {}):
            chance += f" (reference: {REFERENCE[variant]['epochs_at_chance']})"
        rows.append(
            f"| {variant} | {row['seeds']} | {mean_and_spread(row, 'epoch1_val_accuracy')} ({reference(variant, 'epoch1_val_accuracy')}) "
            f"| {mean_and_spread(row, 'best_val_accuracy')} ({reference(variant, 'best_val_accuracy')}) "
            f"| {float(row['best_epoch_mean']):.1f} | {chance} |"
        )
    return rows


def main():
    readme = ROOT / "README.md"
    text = readme.read_text()
    start = text.index(TABLE_HEADER)
    table_end = text.index("\n\n", start)
    new_table = "\n".join([TABLE_HEADER, "|---|---|---|---|---|---|", *table_rows(ROOT / "docs/study/summary.csv")])
    text = text[:start] + new_table + text[table_end:]
    runs = sum(1 for line in (ROOT / "docs/study/results.jsonl").read_text().splitlines() if '"run_end"' in line)
    config = json.loads((ROOT / "docs/study/config.json").read_text())
    planned = len(config["variants"]) * config["seeds"]
    status = f"**All {planned} runs finished.**" if runs == planned else f"**In progress: {runs} of {planned} runs.**"
    text = re.sub(r"\*\*(In progress: \d+ of \d+ runs|All \d+ runs finished)[^*]*\*\*", status, text)
    readme.write_text(text)
    print(f"README.md: {runs} runs, {len(new_table.splitlines()) - 2} variants")


if __name__ == "__main__":
    main()
