"""The encoders of the study: what a text model does between its embedding and its classes.

One module per encoder, each ending in one `register_encoder(Encoder(...))`;
this package imports them in the order the report shows them. Adding an
encoder is one module here and one line in the import below: `--encoders`,
`--help`, the study's grid and the report read `ENCODERS`. Importing this
package does not import Keras (the command line's `--help` reads it).

Every encoder of the study maps the embedded ids to one vector per post; the
study adds the same head to each (`classes_head`: Dropout, then Dense softmax).
"""

from padzero_study.models.encoders.base import (  # noqa: F401  the package's public names
    BYTES_PER_FLOAT,
    BYTES_PER_WEIGHT,
    ENCODERS,
    QUICK_CPU_EPOCH_SECONDS,
    Encoder,
    classes_head,
    keras,
    register_encoder,
)

# The registrations, in report order.
from padzero_study.models.encoders import flatten  # noqa: F401  isort: skip
from padzero_study.models.encoders import average  # noqa: F401  isort: skip
from padzero_study.models.encoders import cnn  # noqa: F401  isort: skip
from padzero_study.models.encoders import lstm  # noqa: F401  isort: skip
from padzero_study.models.encoders import transformer  # noqa: F401  isort: skip
