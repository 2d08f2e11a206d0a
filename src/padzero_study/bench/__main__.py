"""A bench worker: `python -m padzero_study.bench SETTINGS_JSON` measures one case in this fresh process."""

import json
import sys

from padzero_study.bench.cases import SHAPE
from padzero_study.bench.workers import measure
from padzero_study.runtime.allocator import reuse_freed_memory

reuse_freed_memory()  # every case alike, as `padzero reproduce` trains
worker_settings = json.loads(sys.argv[1])
SHAPE.update(worker_settings["shape"])
layer_rows = measure(worker_settings)
if layer_rows is not None:  # a model or bag case has replied line by line already
    print(json.dumps(layer_rows))
