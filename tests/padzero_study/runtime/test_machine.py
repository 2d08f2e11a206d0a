"""What machine and device a figure was measured on."""

import pytest

from padzero_study.runtime import machine


def test_the_machine_is_described_by_its_cores_and_memory():
    description = machine.describe_machine()
    assert description.split(" x ")[0].isdigit() and description.endswith("GiB")


@pytest.mark.per_backend
def test_the_training_device_is_named(backend):
    kind, description = machine.training_device(backend)
    assert kind in ("cpu", "gpu", "tpu")
    # A CPU is named by the machine (cores, model, memory); an accelerator by its own name, such as NVIDIA H200.
    assert description == machine.describe_machine() if kind == "cpu" else description


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of jax, tensorflow, torch; received backend='numpy'"):
        machine.training_device("numpy")
