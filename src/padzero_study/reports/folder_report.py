"""The report of a results folder, whatever study wrote it: what `padzero reproduce`, `diagnose` and `report` write.

The runner trains and records; the command that asked for the runs asks for
this report. Every folder gets the study's table and learning curves
(`padzero_study.reports.study_report`); a folder with diagnostics also gets their "Why"
section and plots (`padzero_study.reports.diagnostics_report`); a folder of encoder
study cells also gets the encoder grid (`padzero_study.reports.encoders_report`).
"""

from padzero_study import results
from padzero_study.reports import diagnostics_report, encoders_report


def write_report(run_dir, results_paths=None):
    """Writes the report of `run_dir` (a folder, or the `StudyFolder` a study handed down) from its results files
    (or `results_paths`) and returns the paths written.

    Raises:
        ResultsError: for a results file that cannot be read, or no records at all (nothing is written then).
    """
    folder = results.as_folder(run_dir, results_paths)
    if not folder.has(results.DIAGNOSTICS_FILE) and encoders_report.is_encoder_study(folder.records_to_report()):
        return encoders_report.build_encoders_report(folder)
    return diagnostics_report.build_report_with_diagnostics(folder)
