"""Tests for `padzero_study.study.settings`: every setting of a study checked once, before any data or Keras."""

import pytest
from tiny_study import TINY

from padzero_study.study import settings


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"seeds": -1}, "seeds must be a positive integer"),
        ({"maxlen": 0}, "maxlen must be a positive integer"),
        ({"vocab_size": 0}, "vocab_size must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"variants": ("padzero", "bogus")}, "unknown variant 'bogus'; choose from"),
        ({"dataset": "imdb"}, "dataset must be"),
        ({"backend": "nonexistent"}, "backend must be one of jax, tensorflow, torch"),
        ({"embedding_init_scale": 0.0}, "embedding_init_scale must be a number above 0 and at most 1"),
        ({"embedding_init_scale": 1e300}, "embedding_init_scale must be a number above 0 and at most 1"),
    ],
)
def test_bad_settings_are_rejected(changes, message):
    with pytest.raises(settings.StudyError, match=message):
        settings.StudyConfig(**{**TINY, **changes})


def test_repeated_variants_run_once():
    config = settings.StudyConfig(variants=("padzero", "baseline", "padzero"), **TINY)
    assert config.variants == ("padzero", "baseline")


@pytest.mark.per_backend
def test_the_fast_path_is_the_default_where_it_measured_faster(backend):
    fast_path = backend == "jax"  # slower on TensorFlow and PyTorch in docs/benchmarks
    sizes = {key: value for key, value in TINY.items() if key != "fast_path"}
    assert settings.StudyConfig(**sizes).fast_path is fast_path
    assert settings.StudyConfig(**sizes, fast_path=not fast_path).fast_path is not fast_path


@pytest.mark.per_backend
def test_distribute_needs_jax(backend):
    if backend == "jax":
        pytest.skip("the refusal is for the other backends")
    with pytest.raises(settings.StudyError, match="distribute needs the jax backend"):
        settings.StudyConfig(distribute=True, **TINY)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"seeds": 10**12}, "seeds must be a positive integer of at most 1,000; received seeds=1000000000000; "),
        (
            {"max_docs": 10**12, "dataset": "20news"},
            "max_docs must be a positive integer of at most [0-9,]+; received max_docs=1000000000000; "
            ".*must fit in this machine's [0-9.]+ GiB of memory",
        ),
        (
            {"maxlen": 10**9},
            "maxlen must be a positive integer of at most [0-9,]+; received maxlen=1000000000; "
            "the padded ids of 200 posts .*GiB of memory",
        ),
        ({"embedding_dim": 10**9}, r"The flatten model would need about [0-9,.]+ GiB .*lower embedding_dim"),
        ({"hidden_units": 10**9}, r"The flatten model would need about [0-9,.]+ GiB .*GiB of memory"),
        # The encoder study's transformer holds maxlen x maxlen attention scores per head: 10**5 ids fit as ids only.
        (
            {"variants": ("transformer/padzero_mask",), "maxlen": 10**5},
            r"The transformer model would need about [0-9,.]+ GiB .*batch's activations",
        ),
        ({"seeds": True}, "seeds must be a positive integer"),
        ({"hidden_units": 0}, "hidden_units must be a positive integer"),
        ({"max_docs": 0}, "max_docs must be a positive integer of at most 200,000; received max_docs=0"),
        ({"epochs": 10**6 + 1}, "epochs must be a positive integer of at most 1,000,000; received epochs=1000001"),
        ({"patience": 10**7}, "patience must be a positive integer of at most 1,000,000"),
        ({"dropout": 1.5}, "dropout must be a number in"),
        ({"padding": "middle"}, "padding must be 'pre' or 'post'"),
        ({"split_seed": -1}, "split_seed must be an integer"),
        ({"variants": "padzero"}, "variants must be a tuple of variant names"),
    ],
)
def test_sizes_and_settings_that_cannot_work_are_refused_before_any_data(changes, message):
    with pytest.raises(settings.StudyError, match=message) as error:
        settings.StudyConfig(**{**TINY, **changes})
    assert "\n" not in str(error.value)


def test_limits_follow_this_machines_memory(monkeypatch):
    # Room for the padded ids of all 18,846 posts at maxlen 1,000, 8 bytes an id.
    monkeypatch.setattr(settings.machine, "total_memory_bytes", lambda: 8 * 18_846 * 1_000)
    settings.StudyConfig(**{**TINY, "maxlen": 1_000, "max_docs": None})
    with pytest.raises(settings.StudyError, match="maxlen must be a positive integer of at most 1,000;"):
        settings.StudyConfig(**{**TINY, "maxlen": 1_001, "max_docs": None})


@pytest.mark.per_backend
def test_the_fast_path_is_the_default_with_jax_on_a_cpu_only(monkeypatch, backend):
    from padzero_study.runtime import machine

    on_this_machine = settings.StudyConfig(**{**TINY, "fast_path": None}).fast_path
    assert on_this_machine is (backend == "jax" and machine.training_device(backend)[0] == "cpu")
    # On a GPU its step measured 2.7-3.5x the plain layers' (docs/benchmarks): the plain layers by default there.
    monkeypatch.setattr(machine, "training_device", lambda backend: ("gpu", "NVIDIA H200"))
    assert settings.StudyConfig(**{**TINY, "fast_path": None}).fast_path is False
    assert settings.StudyConfig(**{**TINY, "fast_path": True}).fast_path is True  # --fast-path still forces it


def test_a_run_checks_its_shard_and_its_folder_without_writing(tmp_path):
    config = settings.StudyConfig(variants=("padzero", "baseline"), **TINY)
    run = settings.StudyRun(config, tmp_path / "out", shard=(2, 2))
    assert run.results_name == "results.shard-2-of-2.jsonl"
    assert run.runs == [("baseline", 0), ("baseline", 1)]  # every 2nd of the seed-major grid, from the 2nd
    with pytest.raises(settings.StudyError, match="shard 5/5 would have no runs: the grid has only 4"):
        settings.StudyRun(config, tmp_path / "out", shard=(5, 5))
    (tmp_path / "a-file").write_text("")
    with pytest.raises(settings.StudyError, match="out_dir .*a-file is a file, not a folder"):
        settings.StudyRun(config, tmp_path / "a-file")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]


def test_diagnose_takes_the_whole_grid_on_the_plain_layers():
    plain = settings.StudyConfig(variants=("padzero",), **TINY)
    with pytest.raises(settings.StudyError, match="cannot run as a shard"):
        settings.StudyRun(plain, "out", shard=(1, 2), diagnose=True)
    with pytest.raises(settings.StudyError, match="which the fast path never builds"):
        settings.StudyRun(
            settings.StudyConfig(variants=("padzero",), **{**TINY, "fast_path": True}), "out", diagnose=True
        )
    with pytest.raises(settings.StudyError, match="cnn/padzero: diagnose measures the hidden Dense layer"):
        settings.StudyRun(settings.StudyConfig(variants=("cnn/padzero",), **TINY), "out", diagnose=True)


def test_a_message_names_each_setting_as_its_caller_knows_it():
    with pytest.raises(settings.StudyError) as error:
        settings.StudyConfig(variants=("padzero",), **{**TINY, "embedding_init_scale": 2.0})
    assert str(error.value).startswith("embedding_init_scale must be a number above 0 and at most 1")
    assert error.value.worded({"embedding_init_scale": "--init-scale"}).startswith("--init-scale must be")


def test_settings_the_variants_would_ignore_are_refused():
    # Recorded in config.json as used while no run used them.
    with pytest.raises(settings.StudyError, match="embedding_init_scale widens Keras's default embedding init"):
        settings.StudyConfig(variants=("uniform",), **{**TINY, "embedding_init_scale": 0.5})
    with pytest.raises(settings.StudyError, match="fast_path fuses Embedding -> Flatten -> Dense"):
        settings.StudyConfig(variants=("masked_average",), **{**TINY, "fast_path": True})
    with pytest.raises(settings.StudyError, match="padding post: each encoder study cell has its own padding"):
        settings.StudyConfig(variants=("cnn/padzero",), **{**TINY, "padding": "post"})
    with pytest.raises(settings.StudyError, match="data_path: dataset synthetic reads no data files"):
        settings.StudyConfig(variants=("padzero",), **{**TINY, "data_path": "."})


def test_settings_import_no_keras():
    import subprocess
    import sys

    code = "import sys, padzero_study.study.settings; print('keras' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.stdout.strip() == "False", completed.stderr
