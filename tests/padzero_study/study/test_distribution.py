"""Data parallel study runs and a sharded padzero.Embedding table on 2 virtual CPU devices (JAX).

Each check runs in a fresh process: XLA's device count is fixed when JAX starts.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "jax", reason="keras.distribution needs JAX"
)

TWO_DEVICES = "--xla_force_host_platform_device_count=2"


def run_python(code, devices_flag, tmp_path):
    environment = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": devices_flag}
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


STUDY = """
    import json, keras
    from padzero_study import results
    from padzero_study.study import runner as study
    config = study.StudyConfig(dataset="synthetic", variants=("padzero",), seeds=1, epochs=2, maxlen=40,
                               vocab_size=200, max_docs=160, embedding_dim=8, hidden_units=5, batch_size=16,
                               fast_path=False, distribute={distribute})  # the plain layers compile faster
    study.run_study(config, "out")
    epochs = [r for r in results.read_lines("out/results.jsonl") if r["record"] == "epoch"]
    print(json.dumps({{"devices": len(keras.distribution.list_devices()), "loss": [r["loss"] for r in epochs],
                      "val_loss": [r["val_loss"] for r in epochs]}}))
"""


def test_data_parallel_study_matches_the_single_device_run(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    single = run_python(STUDY.format(distribute=False), "", tmp_path / "one")
    parallel = run_python(STUDY.format(distribute=True), TWO_DEVICES, tmp_path / "two")
    assert single["devices"] == 1 and parallel["devices"] == 2
    np.testing.assert_allclose(parallel["loss"], single["loss"], rtol=1e-4)
    np.testing.assert_allclose(parallel["val_loss"], single["val_loss"], rtol=1e-4)


def test_embedding_table_sharded_by_a_layout_map(tmp_path):
    result = run_python(
        """
        import json, keras, numpy as np
        import padzero
        devices = keras.distribution.list_devices()
        mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], devices)
        layout_map = keras.distribution.LayoutMap(mesh)
        layout_map[".*embedding/embeddings"] = (None, "model")  # a full match of the path: each device holds half of every vector
        ids = np.array([[0, 0, 3, 7], [0, 5, 9, 1]], "int32")
        keras.utils.set_random_seed(0)
        plain = keras.Sequential([keras.Input((4,), dtype="int32"), padzero.Embedding(12, 6, name="embedding")])
        with keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch").scope():
            keras.utils.set_random_seed(0)
            sharded = keras.Sequential([keras.Input((4,), dtype="int32"), padzero.Embedding(12, 6, name="embedding")])
            table = sharded.layers[0].embeddings.value
            shards, shard_shape = len(table.addressable_shards), list(table.addressable_shards[0].data.shape)
            outputs = np.asarray(sharded(ids))
            sharded.compile(optimizer="sgd", loss="mse")
            sharded.fit(ids, np.ones((2, 4, 6), "float32"), epochs=1, verbose=0)
        print(json.dumps({
            "shards": shards,
            "shard_shape": shard_shape,
            "same_as_plain": bool(np.allclose(outputs, np.asarray(plain(ids)))),
            "padding_zero": bool((outputs[ids == 0] == 0).all()),
            "padding_row_after_training": np.abs(sharded.layers[0].get_weights()[0][0]).max().item(),
        }))
        """,
        TWO_DEVICES,
        tmp_path,
    )
    assert result["shards"] == 2 and result["shard_shape"] == [12, 3]
    assert result["same_as_plain"] and result["padding_zero"]
    assert result["padding_row_after_training"] == 0.0
