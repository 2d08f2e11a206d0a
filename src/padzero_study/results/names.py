"""The names of a study folder's files, and the limits of the values its records hold: the folder format, once."""

RESULTS_FILE = "results.jsonl"
SHARD_RESULTS_FILE = "results.shard-{index}-of-{count}.jsonl"
SHARD_RESULTS_GLOB = "results.shard-*-of-*.jsonl"
INTERRUPTED_FILE = "interrupted.jsonl"
DIAGNOSTICS_FILE = "diagnostics.jsonl"
CONFIG_FILE = "config.json"
# What the reports write (padzero_study.reports): moved aside with the results they were built from.
SUMMARY_FILE = "summary.csv"
REPORT_FILE = "report.md"
LEARNING_CURVES_FILE = "learning_curves.png"
DIAGNOSTICS_PLOT_FILE = "diagnostics.png"
DIAGNOSTICS_TABLE_FILE = "diagnostics.md"
ENCODERS_PLOT_FILE = "encoders.png"
REPORT_FILES = (
    SUMMARY_FILE,
    REPORT_FILE,
    LEARNING_CURVES_FILE,
    DIAGNOSTICS_PLOT_FILE,
    DIAGNOSTICS_TABLE_FILE,
    ENCODERS_PLOT_FILE,
)

# Seeds and epochs are small counters; anything beyond these is not a value the runner writes.
# The settings check uses the same limits, so the runner never writes a record the reader refuses.
LARGEST_SEED = 2**32 - 1
LARGEST_EPOCH = 10**6
LARGEST_CLASS_COUNT = 10**6
