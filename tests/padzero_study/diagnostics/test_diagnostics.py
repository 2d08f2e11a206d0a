"""padzero_study.diagnostics.recorder: each measure against a value computed by hand on a tiny model."""

import doctest
import json

import keras
import numpy as np
import pytest

from padzero_study import results
from padzero_study.diagnostics import recorder as diagnostics
from padzero_study.diagnostics.recorder import (
    DiagnosticsRecorder,
    dead_unit_fraction,
    hidden_layer_pass,
    loss_and_gradients,
    padding_gradient_share,
    shared_input_l1,
)
from padzero_study.reports import folder_report
from padzero_study.study import runner as study

pytestmark = pytest.mark.per_backend


def tiny_model(w0, w1, hidden_bias=0.0):
    """ids (2 positions) -> Embedding(3, 1) -> Flatten -> hidden Dense(1, linear) -> classes Dense(2) with kernel [1, -1].

    With table [a, b, c], ids [0, 2] and label 0: h = a*w0 + c*w1 + bias, logits (h, -h), and
    d loss / d table = (dL/dh * w0, 0, dL/dh * w1), so the padding row's squared-norm share of
    the table gradient is w0^2 / (w0^2 + w1^2), whatever dL/dh.
    """
    ids = keras.Input((2,), dtype="int32")
    embedded = keras.layers.Embedding(3, 1, name="embedding")(ids)
    hidden = keras.layers.Dense(1, name="hidden")(keras.layers.Flatten()(embedded))
    classes = keras.layers.Dense(2, activation="softmax", name="classes")(hidden)
    model = keras.Model(ids, classes)
    model.get_layer("embedding").set_weights([np.array([[0.5], [0.7], [-0.2]], "float32")])
    model.get_layer("hidden").set_weights([np.array([[w0], [w1]], "float32"), np.array([hidden_bias], "float32")])
    model.get_layer("classes").set_weights([np.array([[1.0, -1.0]], "float32"), np.zeros(2, "float32")])
    return model


@pytest.mark.parametrize("w0, w1", [(3.0, 4.0), (1.0, 0.0), (0.5, 2.0)])
def test_padding_gradient_share_on_a_tiny_model(w0, w1):
    model = tiny_model(w0, w1)
    ids, labels = np.array([[0, 2]], "int32"), np.array([0])
    _, gradients = loss_and_gradients(model, ids, labels)
    table_gradient = gradients[0]
    assert table_gradient[1, 0] == 0.0  # id 1 is not in the batch
    assert padding_gradient_share(table_gradient) == pytest.approx(w0**2 / (w0**2 + w1**2), rel=1e-5)


def test_table_gradient_matches_the_hand_derivative():
    model = tiny_model(3.0, 4.0)
    _, gradients = loss_and_gradients(model, np.array([[0, 2]], "int32"), np.array([0]))
    h = 0.5 * 3.0 + (-0.2) * 4.0
    # loss = -log softmax(h, -h)[0] = log(1 + exp(-2h)); dL/dh = -2 / (1 + exp(2h))
    d_h = -2.0 / (1.0 + np.exp(2 * h))
    np.testing.assert_allclose(gradients[0][:, 0], [d_h * 3.0, 0.0, d_h * 4.0], rtol=1e-5)


def test_hidden_pre_activations_and_dead_units_by_hand():
    model = tiny_model(3.0, 4.0, hidden_bias=-1.0)
    ids = np.array([[0, 2], [1, 1], [2, 0]], "int32")
    table = {0: 0.5, 1: 0.7, 2: -0.2}
    expected = [[table[a] * 3.0 + table[b] * 4.0 - 1.0] for a, b in ids]
    pre, _ = hidden_layer_pass(model, ids, batch_size=2)
    np.testing.assert_allclose(pre, expected, rtol=1e-5)
    assert dead_unit_fraction(pre) == (0.0 if max(v[0] for v in expected) > 0 else 1.0)
    dead = tiny_model(3.0, 4.0, hidden_bias=-100.0)
    assert dead_unit_fraction(hidden_layer_pass(dead, ids)[0]) == 1.0


def test_shared_input_l1_by_hand():
    model = tiny_model(3.0, 4.0)
    ids = np.array([[0, 2], [1, 1], [2, 0]], "int32")
    table = {0: 0.5, 1: 0.7, 2: -0.2}
    # The mean input at position 0 is (0.5 + 0.7 - 0.2) / 3, at position 1 it is (-0.2 + 0.7 + 0.5) / 3.
    expected = abs(sum(table[a] for a, _ in ids) / 3) + abs(sum(table[b] for _, b in ids) / 3)
    assert shared_input_l1(model, ids, batch_size=2) == pytest.approx(expected, rel=1e-6)
    opposite = np.array([[1, 1], [2, 2]], "int32")  # a padding-free, mixed-sign input shares less
    assert shared_input_l1(model, opposite) == pytest.approx(2 * abs(0.7 - 0.2) / 2, rel=1e-6)


def test_measure_examples_are_right():
    failures, tried = doctest.testmod(diagnostics, extraglobs={"np": np})
    assert tried >= 4 and failures == 0


def test_recorder_writes_lines_at_the_chosen_steps(tmp_path):
    keras.utils.set_random_seed(0)
    from padzero_study.models.variants import build_model

    rng = np.random.default_rng(0)
    ids = np.zeros((64, 12), "int32")
    for row in range(64):
        length = rng.integers(1, 12)
        ids[row, 12 - length :] = rng.integers(1, 30, size=length)
    labels = rng.integers(0, 3, 64)
    path = tmp_path / "diagnostics.jsonl"
    lines = {}
    for variant in ("baseline", "padzero"):
        model = build_model(variant, vocab_size=30, maxlen=12, num_classes=3, embedding_dim=4, hidden_units=5)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        recorder = DiagnosticsRecorder(
            lambda record: results.append_record(path, record),
            {"variant": variant},
            ids[:16],
            labels[:16],
            ids[16:],
            (ids == 0).mean(axis=0),
            {i: f"w{i}" for i in range(1, 30)},
            first_epoch_steps=(0, 1, 3),
        )
        model.fit(
            ids, labels, batch_size=8, epochs=2, validation_data=(ids[:8], labels[:8]), callbacks=[recorder], verbose=0
        )
        lines[variant] = [r for r in map(json.loads, path.read_text().splitlines()) if r["variant"] == variant]
    for records in lines.values():
        assert [(r["epoch"], r["step"]) for r in records] == [(0, 0), (0, 1), (0, 3), (1, None), (2, None)]
        assert all(r["padding_gradient_share"] is None or 0 <= r["padding_gradient_share"] <= 1 for r in records)
        assert all(0 <= r["dead_unit_fraction"] <= 1 and r["table_gradient_norm"] >= 0 for r in records)
        assert "val_accuracy" in records[-1]
    assert len(lines["baseline"][-1]["padding_nearest_words"]) == 5
    assert lines["padzero"][-1]["padding_nearest_words"] == []  # a zero vector has no neighbours
    assert all(r["padding_norm"] == 0.0 and r["padding_gradient_share"] in (0.0, None) for r in lines["padzero"])
    assert all(r["padding_gradient_share"] > 0 for r in lines["baseline"] if r["table_gradient_norm"] > 0)
    assert lines["baseline"][0]["padding_gradient_share"] > 0
    # The repeated padding vector is a component all posts share; padzero's zeros are not.
    assert lines["baseline"][0]["shared_input_l1"] > 2 * lines["padzero"][0]["shared_input_l1"] > 0
    assert lines["baseline"][-1]["padding_norm"] != lines["baseline"][0]["padding_norm"]  # the vector trains


def test_diagnose_study_writes_diagnostics_and_a_plot(tmp_path):
    config = study.StudyConfig(
        dataset="synthetic",
        variants=("baseline", "padzero", "masked_average"),
        seeds=1,
        epochs=2,
        maxlen=40,
        vocab_size=200,
        max_docs=200,
        embedding_dim=8,
        hidden_units=5,
        fast_path=False,
    )
    study.run_study(config, tmp_path, diagnose=True)
    written = folder_report.write_report(tmp_path)  # what `padzero diagnose` writes after the runs
    records = [json.loads(line) for line in (tmp_path / "diagnostics.jsonl").read_text().splitlines()]
    assert {r["variant"] for r in records} == {"baseline", "padzero", "masked_average"}
    assert (tmp_path / "diagnostics.png").stat().st_size > 0 and written["diagnostics_plot"]
    table = (tmp_path / "diagnostics.md").read_text().splitlines()
    assert len(table) == 2 + len(records)  # header, rule, a row per checkpoint
    assert all(row.startswith(("| baseline |", "| padzero |", "| masked_average |")) for row in table[2:])
    report = (tmp_path / "report.md").read_text()
    assert "## Why: what the diagnostics measured" in report and "](diagnostics.png)" in report
    assert "- **baseline** (seeds 0;" in report and "- **padzero** (seeds 0;" in report
    assert "- **masked_average** (seeds 0;" in report
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert sum(r["record"] == "run_end" for r in records) == 3


def test_diagnostics_of_an_interrupted_run_are_dropped_on_resume(tmp_path):
    config = study.StudyConfig(
        dataset="synthetic",
        variants=("padzero",),
        seeds=2,
        epochs=1,
        maxlen=30,
        vocab_size=100,
        max_docs=100,
        embedding_dim=4,
        hidden_units=3,
        fast_path=False,
    )
    study.run_study(study.StudyConfig(**{**config.__dict__, "seeds": 1}), tmp_path, diagnose=True)
    path = tmp_path / "diagnostics.jsonl"
    finished_lines = path.read_text()
    with open(path, "a") as file:  # seed 1 was half-way when the study was killed
        file.write(json.dumps({**json.loads(finished_lines.splitlines()[0]), "seed": 1}) + "\n")
        file.write('{"variant": "padzero", "se')
    study.run_study(config, tmp_path, diagnose=True)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert path.read_text().startswith(finished_lines)
    seed_one = [(r["epoch"], r["step"]) for r in records if r["seed"] == 1]
    assert len(seed_one) == len(set(seed_one))  # the interrupted run's lines did not stay beside the redone ones
