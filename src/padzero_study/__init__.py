"""The 20 Newsgroups padding study around `padzero`: data, model variants, the
resumable runner, results, reports, diagnostics and benchmarks.

Install it with `pip install "padzero[study]"`. Importing this package loads
neither Keras nor scikit-learn: the `padzero` command chooses the Keras backend
first. The names below load on first use.
"""

import importlib

_EXPORTS = {
    "StudyConfig": "padzero_study.study.settings",
    "run_study": "padzero_study.study.runner",
    "build_model": "padzero_study.models.variants",
    "load_newsgroups": "padzero_study.data.newsgroups",
    "make_synthetic_newsgroups": "padzero_study.data.synthetic",
    "encode_newsgroups": "padzero_study.data.text",
    "build_report": "padzero_study.reports.study_report",
    "write_report": "padzero_study.reports.folder_report",
    "register_encoder": "padzero_study.models.encoders",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'padzero_study' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
