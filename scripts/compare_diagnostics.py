"""Puts diagnose runs side by side: python scripts/compare_diagnostics.py OUT_DIR RUN_DIR [RUN_DIR ...]

Writes OUT_DIR/comparison.md (one row per run) and OUT_DIR/comparison.png; used for the
ablations in docs/diagnose-ablations (see scripts/diagnose_ablations.sh).
"""

import sys

from padzero_study.reports.diagnostics_report import write_comparison

if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    for path in write_comparison(sys.argv[2:], sys.argv[1]):
        print(path)
