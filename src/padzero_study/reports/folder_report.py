"""The report of a results folder, whatever study wrote it: what `padzero reproduce`, `diagnose` and `report` write.

The runner trains and records; the command that asked for the runs asks for
this report. Every folder gets the study's table and learning curves
(`padzero_study.reports.study_report`); a folder with diagnostics also gets their "Why"
section and plots (`padzero_study.reports.diagnostics_report`); a folder of encoder
study cells also gets the encoder grid (`padzero_study.reports.encoders_report`).
"""

from pathlib import Path

from padzero_study import files
from padzero_study import results

from padzero_study.reports import diagnostics_report

from padzero_study.reports import encoders_report


def write_report(run_dir, results_paths=None):
    """Writes the report of `run_dir` from its results files (or `results_paths`) and returns the paths written.

    Raises:
        ResultsError: for a results file that cannot be read, or no records at all (nothing is written then).
    """
    run_dir = Path(run_dir)
    has_diagnostics = files.check_own_file(run_dir / results.DIAGNOSTICS_FILE, must_exist=False)
    if not has_diagnostics:
        paths_read = results_paths or results.results_files(run_dir) or [run_dir / results.RESULTS_FILE]
        records = results.load_results(paths_read, follow_links=bool(results_paths))
        if encoders_report.is_encoder_study(records):
            return encoders_report.build_encoders_report(run_dir, results_paths, records)
    return diagnostics_report.build_report_with_diagnostics(run_dir, results_paths)
