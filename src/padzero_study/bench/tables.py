"""The results as Markdown tables: the layer and model parts' table, then the bag part's, the settings above them."""


def format_table(results):
    """The results as Markdown tables (the layer and model parts', then the bag part's), the settings above them."""
    settings = results["settings"]
    lines = [
        (
            f"machine: {results['machine']}; batch {settings['batch_size']} x {settings['maxlen']}, "
            f"padding share {settings['padding_share']:.3f}; medians of {settings['repeats']} repeats"
            f" ({settings['steps']} training steps each for the model and bag parts)"
        ),
    ]
    rows = [row for row in results["rows"] if row["part"] != "bag"]
    if rows:
        lines += [
            "",
            "| part | backend | device | case | time | ratio | to | speed vs native torch, fused Adam | peak memory |",
            "|---|---|---|---|---:|---:|---|---:|---:|",
        ]
    fused_torch = {r["case"]: r["ms"] for r in rows if r["part"] == "model"}.get("native torch, fused Adam")
    for row in rows:
        time_text = f"{row['ms']:.1f} ms" + ("/step" if row["part"] == "model" else "/call")
        if row["part"] == "model":
            time_text += f" ({row['epoch_seconds']:.0f} s/epoch)"
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
        # How many times faster than native PyTorch with fused Adam (above 1: faster), for training steps.
        versus_torch = f"{fused_torch / row['ms']:.2f}x" if row["part"] == "model" and fused_torch else "-"
        lines.append(
            f"| {row['part']} | {row['backend']} | {_device(row, results)} | {row['case']} | {time_text} | "
            f"{ratio} | {row['ratio_to'] or '-'} | {versus_torch} | {row['peak_mb']:.0f} MB |"
        )
    bag = [row for row in results["rows"] if row["part"] == "bag"]
    if bag:
        lines += ["", *bag_table(bag, results)]
    return "\n".join(lines)


def bag_table(rows, results):
    """The bag part's lines: a row per case and backend, each measure's time and its ratios, the memory."""

    def ratio(value):
        return "-" if value is None else f"{value:.2f}x"

    lines = [
        (
            "The average model's bag (ids -> the mean of the real ids' vectors), per step of "
            f"{results['settings']['batch_size']} posts: the layer's forward + backward, the average model's training "
            "step (-> Dense(20, softmax), Adam); each time over Keras's masked pooling's on the same backend (/ pooling) "
            "and native PyTorch's (/ torch), below 1 when faster; XLA's temporaries of the layer on JAX."
        ),
        "",
        (
            "| backend | device | case | layer | / pooling | / torch | step | / pooling | / torch | peak memory, layer / step "
            "| XLA temporaries |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        temporaries = "-" if row["xla_temp_mb"] is None else f"{row['xla_temp_mb']:.1f} MB"
        lines.append(
            f"| {row['backend']} | {_device(row, results)} | {row['case']} | {row['layer_ms']:.2f} ms | "
            f"{ratio(row['layer_ratio'])} | {ratio(row['layer_torch_ratio'])} | {row['step_ms']:.2f} ms "
            f"({row['epoch_seconds']:.0f} s/epoch) | {ratio(row['step_ratio'])} | {ratio(row['step_torch_ratio'])} | "
            f"{row['layer_peak_mb']:.0f} / {row['step_peak_mb']:.0f} MB | {temporaries} |"
        )
    return lines


def _device(row, results):
    return "CPU" if row.get("device") == results["machine"] else row.get("device", "-")  # the machine line names it
