"""The sizes of a study small enough for a test: seconds, not hours."""

# The runner's own work (results, resuming, shards, refusals) is the same on either path, and the plain
# layers compile far faster on JAX; the fast path's study is tested against the plain one's.
TINY = dict(
    dataset="synthetic",
    seeds=2,
    epochs=2,
    maxlen=60,
    vocab_size=300,
    max_docs=200,
    embedding_dim=8,
    hidden_units=5,
    fast_path=False,
)
