"""Rewrites the README's study results table from docs/study/summary.csv and the variant registry.

Run after `padzero report docs/study`: `python scripts/update_readme_results.py`.
Descriptions and the original experiment's numbers (in brackets) come from
`padzero_study.models.variants.VARIANTS`; means ± std over seeds from summary.csv.
"""

import csv
import math
from pathlib import Path

from padzero_study.models.variants import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
TABLE_HEADER = "| variant | what it is | epoch-1 val acc | best val acc |"


def mean_and_spread(row, key):
    mean, std = float(row[f"{key}_mean"]), float(row[f"{key}_std"])
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def with_reference(row, key):
    registered = VARIANTS.get(row["variant"])
    published = ((registered.reference if registered else None) or {}).get(key)
    return mean_and_spread(row, key) + ("" if published is None else f" ({published:g})")


def table(summary_path):
    lines = [TABLE_HEADER, "|---|---|---|---|"]
    for row in csv.DictReader(summary_path.open(encoding="utf-8")):
        registered = VARIANTS.get(row["variant"])
        description = registered.description if registered else ""
        lines.append(
            f"| `{row['variant']}` | {description} | {with_reference(row, 'epoch1_val_accuracy')} "
            f"| {with_reference(row, 'best_val_accuracy')} |"
        )
    return "\n".join(lines)


def main():
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index(TABLE_HEADER)
    end = text.index("\n\n", start)
    new_table = table(ROOT / "docs" / "study" / "summary.csv")
    readme.write_text(text[:start] + new_table + text[end:], encoding="utf-8")
    print(f"README.md: {len(new_table.splitlines()) - 2} variants")


if __name__ == "__main__":
    main()
