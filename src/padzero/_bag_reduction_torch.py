"""`reduce_bags` for PyTorch: `torch.nn.functional.embedding_bag`, PyTorch's own kernel.

It reduces the rows as it reads them, skipping `padding_idx` (the row is
never read, so NaN or inf there cannot reach an output), and its backward adds
into the dense table gradient: nothing of `(batch, length, dim)` either way.
"""

import torch


def reduce_bags(table, ids, mode, padding_idx, per_sample_weights=None):
    """`padzero.bag_reduction.reduce_bags_portable`'s result, from PyTorch's `embedding_bag`."""
    if ids.numel() == 0:  # PyTorch cannot cut a batch of empty bags into bags
        return torch.zeros((ids.shape[0], table.shape[1]), dtype=table.dtype, device=table.device)
    if per_sample_weights is not None:
        per_sample_weights = per_sample_weights.to(table.dtype)
    return torch.nn.functional.embedding_bag(
        ids, table, mode=mode, padding_idx=padding_idx, per_sample_weights=per_sample_weights
    )
