"""The reference model written in plain PyTorch: the honest speed anchor for `padzero bench`.

Embedding(V, 300, padding_idx=0) -> Flatten -> Linear(25) -> ReLU -> Dropout(0.3)
-> Linear(20), trained with Adam and cross-entropy, initialised as Keras
initialises it (uniform(-0.05, 0.05) embeddings, Glorot-uniform kernels, zero
biases), so its numbers are comparable to the Keras models'. `AverageModel`,
EmbeddingBag(V, 300, mean, padding_idx=0) -> Linear(20), is the anchor of the
average model's bag, initialised the same way.
"""

import torch
from torch import nn

from padzero_study import reference


class ReferenceModel(nn.Module):
    """The 20 Newsgroups reference architecture with PyTorch's own `padding_idx`.

    Args:
        vocab_size: int, rows of the embedding table (words + padding id 0).
        maxlen: int, ids per example.
        num_classes: int, default 20.
        embedding_dim: int, default 300.
        hidden_units: int, default 25.
        dropout: float, default 0.3.

    Example:

    >>> model = ReferenceModel(vocab_size=50, maxlen=8, num_classes=3)
    >>> model(torch.zeros((2, 8), dtype=torch.int64)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        vocab_size,
        maxlen,
        num_classes=reference.NUM_CLASSES,
        embedding_dim=reference.EMBEDDING_DIM,
        hidden_units=reference.HIDDEN_UNITS,
        dropout=reference.DROPOUT,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.hidden = nn.Linear(maxlen * embedding_dim, hidden_units)
        self.dropout = nn.Dropout(dropout)
        self.classes = nn.Linear(hidden_units, num_classes)
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            self.embedding.weight[0].zero_()
            for linear in (self.hidden, self.classes):
                nn.init.xavier_uniform_(linear.weight)
                nn.init.zeros_(linear.bias)

    def forward(self, ids):
        """Class logits (the softmax is inside the loss, as usual in PyTorch)."""
        hidden = torch.relu(self.hidden(self.embedding(ids).flatten(1)))
        return self.classes(self.dropout(hidden))


class AverageModel(nn.Module):
    """The average model with PyTorch's own `nn.EmbeddingBag`: the mean of the real ids' vectors -> class logits.

    Args:
        vocab_size: int, rows of the embedding table (words + padding id 0).
        num_classes: int, default 20.
        embedding_dim: int, default 300.

    Example:

    >>> model = AverageModel(vocab_size=50, num_classes=3)
    >>> model(torch.tensor([[0, 0, 4, 7], [0, 0, 0, 0]])).shape
    torch.Size([2, 3])
    """

    def __init__(self, vocab_size, num_classes=reference.NUM_CLASSES, embedding_dim=reference.EMBEDDING_DIM):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size, embedding_dim, mode="mean", padding_idx=0)
        self.classes = nn.Linear(embedding_dim, num_classes)
        with torch.no_grad():
            nn.init.uniform_(self.bag.weight, -0.05, 0.05)
            self.bag.weight[0].zero_()
            nn.init.xavier_uniform_(self.classes.weight)
            nn.init.zeros_(self.classes.bias)

    def forward(self, ids):
        """Class logits (the softmax is inside the loss, as usual in PyTorch)."""
        return self.classes(self.bag(ids))


def make_training_step(model, fused=False):
    """One Adam step on (ids, labels) with Keras's Adam defaults (lr 1e-3, eps 1e-7); returns the loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, fused=fused)
    loss_function = nn.CrossEntropyLoss()

    def step(ids, labels):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(model(ids), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step
