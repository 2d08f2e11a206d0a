"""The bench's rows and tables: each row's ratios (`bench.driver`) and the Markdown tables (`bench.tables`)."""

from padzero_study.bench import cases, driver, tables


def bag_measurements(times):
    """What `run_in_turn` returns for the bag part: one row per (backend, case, measure), from {(b, c): (layer, step)}."""
    return [
        {
            "part": "bag",
            "backend": backend,
            "case": case,
            "measure": measure,
            "ms": ms,
            "peak_mb": 100.0 + ms,
            "device": "2 x test CPU",
            **({"xla_temp_mb": 1.5} if (backend, measure) == ("jax", "layer") else {}),
        }
        for (backend, case), pair in times.items()
        for measure, ms in zip(cases.BAG_MEASURES, pair)
    ]


BAG, POOLING, NATIVE = "padzero.EmbeddingBag(mean)", cases.KERAS_POOLING, cases.NATIVE_BAG


def test_bag_rows_hold_both_measures_and_their_ratios_to_pooling_and_to_native_torch():
    times = {
        ("jax", BAG): (1.0, 4.0),
        ("jax", POOLING): (2.0, 8.0),
        ("tensorflow", BAG): (3.0, 6.0),
        ("tensorflow", POOLING): (1.5, 2.0),
        ("torch", NATIVE): (0.5, 16.0),
    }
    rows = {(r["backend"], r["case"]): r for r in driver.with_ratios(driver.bag_rows(bag_measurements(times)))}
    assert list(rows) == list(times)
    bag = rows[("jax", BAG)]
    assert (bag["layer_ms"], bag["step_ms"], bag["layer_peak_mb"], bag["step_peak_mb"]) == (1.0, 4.0, 101.0, 104.0)
    assert bag["xla_temp_mb"] == 1.5 and rows[("tensorflow", BAG)]["xla_temp_mb"] is None
    assert (bag["layer_ratio"], bag["step_ratio"]) == (0.5, 0.5) and bag["ratio_to"] == f"jax {POOLING}"
    assert (bag["layer_torch_ratio"], bag["step_torch_ratio"]) == (2.0, 0.25)
    assert (rows[("tensorflow", BAG)]["layer_ratio"], rows[("tensorflow", BAG)]["step_ratio"]) == (2.0, 3.0)
    assert rows[("jax", POOLING)]["layer_ratio"] == 1.0
    native = rows[("torch", NATIVE)]
    assert native["layer_ratio"] is None and native["ratio_to"] is None and native["step_torch_ratio"] == 1.0


def test_without_pooling_or_native_torch_the_bag_ratios_are_left_empty():
    rows = driver.with_ratios(driver.bag_rows(bag_measurements({("jax", BAG): (1.0, 4.0)})))
    assert [
        rows[0][key] for key in ("layer_ratio", "step_ratio", "layer_torch_ratio", "step_torch_ratio", "ratio_to")
    ] == [None] * 5


def test_model_rows_are_ratioed_to_the_jax_baseline():
    rows = [
        {"part": "model", "backend": backend, "case": case, "ms": ms}
        for backend, case, ms in (
            ("jax", "keras baseline", 2.0),
            ("jax", cases.SCANNED_CASE, 1.0),
            ("torch", "padzero", 3.0),
        )
    ]
    assert [(r["ratio"], r["ratio_to"]) for r in driver.with_ratios(rows)] == [
        (1.0, "jax keras baseline"),
        (0.5, "jax keras baseline"),
        (1.5, "jax keras baseline"),
    ]


def test_the_bag_part_has_a_table_of_its_own(fake_results):
    times = {("jax", BAG): (1.0, 4.0), ("jax", POOLING): (2.0, 8.0), ("torch", NATIVE): (0.5, 16.0)}
    rows = driver.with_ratios(driver.bag_rows(bag_measurements(times)))
    for row in rows:
        row["epoch_seconds"] = row["step_ms"] * 472 / 1e3
    results = {**fake_results, "rows": [*fake_results["rows"], *rows]}
    table = tables.format_table(results).splitlines()
    assert table[4].startswith("| layer | jax |")  # the layer and model parts' table first
    bag_lines = [line for line in table if line.startswith(("| jax |", "| torch |"))]
    assert bag_lines == [
        f"| jax | CPU | {BAG} | 1.00 ms | 0.50x | 2.00x | 4.00 ms (2 s/epoch) | 0.50x | 0.25x | 101 / 104 MB | 1.5 MB |",
        (
            f"| jax | CPU | {POOLING} | 2.00 ms | 1.00x | 4.00x | 8.00 ms (4 s/epoch) | 1.00x | 0.50x | 102 / 108 MB "
            "| 1.5 MB |"
        ),
        f"| torch | CPU | {NATIVE} | 0.50 ms | - | 1.00x | 16.00 ms (8 s/epoch) | - | 1.00x | 100 / 116 MB | - |",
    ]
    only_bag = tables.format_table({**results, "rows": rows})
    assert "| part |" not in only_bag and only_bag.count("| jax |") == 2


def test_the_table_names_each_rows_device(fake_results):
    gpu_row = {**fake_results["rows"][0], "device": "NVIDIA H200"}
    cpu_row = {**fake_results["rows"][0], "device": fake_results["machine"], "case": "padzero.Embedding"}
    table = tables.format_table({**fake_results, "rows": [gpu_row, cpu_row]})
    assert "| layer | jax | NVIDIA H200 | keras.layers.Embedding |" in table
    assert "| layer | jax | CPU | padzero.Embedding |" in table
