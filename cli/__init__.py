"""The `twostage` command line: a thin client of the Engine.

One BLAS thread per call, like every library the request path uses; set before numpy loads.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
