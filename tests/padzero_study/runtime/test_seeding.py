"""`padzero_study.runtime.seeding.set_random_seed`: the numbers of Keras's own seeding, without importing TensorFlow."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

TWO_STUDIES = """
    import json, sys, tempfile
    import keras
    from padzero_study import results
    from padzero_study.study import runner
    from padzero_study.runtime import seeding

    def study_numbers():
        config = runner.StudyConfig(dataset="synthetic", variants=("padzero", "baseline"), seeds=1, epochs=2,
                                    maxlen=40, vocab_size=200, max_docs=160, embedding_dim=8, hidden_units=5,
                                    fast_path=False)
        folder = runner.run_study(config, tempfile.mkdtemp())
        return [[r[key] for key in ("variant", "seed", "epoch", "loss", "val_loss", "val_accuracy")]
                for r in results.read_lines(folder / "results.jsonl") if r["record"] == "epoch"]

    ours = study_numbers()  # runner.set_random_seed is seeding.set_random_seed
    tensorflow_imported = "tensorflow" in sys.modules
    seeding.set_random_seed(5)
    ours_draw = keras.ops.convert_to_numpy(keras.random.uniform((3,))).tolist()
    runner.set_random_seed = keras.utils.set_random_seed  # Keras's own, which imports TensorFlow to seed it
    keras_numbers = study_numbers()
    keras.utils.set_random_seed(5)
    keras_draw = keras.ops.convert_to_numpy(keras.random.uniform((3,))).tolist()
    print(json.dumps({"tensorflow_imported": tensorflow_imported, "same": ours == keras_numbers,
                      "draws": [ours_draw, keras_draw], "after": "tensorflow" in sys.modules}))
"""


# On JAX: on PyTorch the same code runs, and Keras's own function seeds torch the same way in both.
@pytest.mark.parametrize("backend", ["jax"])
def test_the_study_trains_to_the_numbers_of_keras_own_seeding_without_importing_tensorflow(backend):
    pytest.importorskip(backend)
    pytest.importorskip("tensorflow")  # what is left out must be installed for the test to mean anything
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(TWO_STUDIES)],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": backend},
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["tensorflow_imported"] is False and outcome["after"] is True
    assert outcome["same"] is True  # every loss and accuracy, to the last digit
    assert outcome["draws"][0] == outcome["draws"][1]  # Keras's global seed generator starts over the same way
