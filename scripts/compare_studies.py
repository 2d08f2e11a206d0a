"""Puts the same runs of two studies side by side: python scripts/compare_studies.py REFERENCE_DIR DIR

Prints a Markdown table, one row per (variant, seed) finished in both: epoch-1 and best validation
accuracy, the reference seeds' spread of best accuracies, and epochs run. Used for docs/study's
comparison of the fast path with the plain one (docs/study-plain).
"""

import sys
from pathlib import Path

from padzero_study.reports.study_report import compare_studies, format_comparison
from padzero_study.results import load_results, results_files

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    reference_dir, study_dir = map(Path, sys.argv[1:])
    rows = compare_studies(load_results(results_files(reference_dir)), load_results(results_files(study_dir)))
    print(format_comparison(rows, names=(reference_dir.name, study_dir.name)), end="")
