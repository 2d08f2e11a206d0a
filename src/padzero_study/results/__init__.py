"""A study folder's files: their names (`names`), JSON lines (`jsonlines`), what each record holds (`schema`), the
lock on a results file (`lock`), and the folder read once (`folder.StudyFolder`).

Importing this package loads neither Keras nor NumPy: `padzero report` needs neither.
"""

from padzero_study.results.folder import (  # noqa: F401
    StudyFolder,
    as_folder,
    finished_runs,
    load_diagnostics,
    load_results,
    results_files,
)
from padzero_study.results.jsonlines import ResultsError, append_record, read_lines  # noqa: F401
from padzero_study.results.lock import is_locked, study_lock  # noqa: F401
from padzero_study.results.names import *  # noqa: F401,F403
from padzero_study.results.schema import as_json_text, read_config  # noqa: F401
