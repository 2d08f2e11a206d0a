"""The reference experiment's sizes, written once: Embedding(20,001, 300) -> Flatten -> Dense(25, relu) ->
Dropout(0.3) -> Dense(20, softmax) over 20 Newsgroups posts padded to 1,100 ids, batches of 32, up to 30 epochs
with early stopping after 5 without a better validation loss.

The settings' defaults, the model builders' defaults, the PyTorch twin, the bench's shapes and the report's
"reference" all read them here.
"""

MAXLEN = 1_100  # ids per post after padding
VOCAB_SIZE = 20_000  # most frequent words kept; the table has one more row, for the padding id
EMBEDDING_DIM = 300
HIDDEN_UNITS = 25
DROPOUT = 0.3
NUM_CLASSES = 20
BATCH_SIZE = 32
EPOCHS = 30
PATIENCE = 5
# The reference's split of 20 Newsgroups' 18,846 posts (the study's own split is 80/20 of all of them).
TRAIN_POSTS = 15_048
VALIDATION_POSTS = 3_798
