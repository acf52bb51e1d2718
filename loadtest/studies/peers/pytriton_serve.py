"""Starts Triton through PyTriton on one model of our repository, with Triton's dynamic batcher (run with the
pytriton virtualenv). Triton's C++ front end takes HTTP; the batches reach this Python process, which runs
our model code.

Triton gives every tensor at least one dimension besides the batch: a text per row is declared [-1, 1], and
so is a label per row (the load generator follows the model's metadata: loadtest.preflight.wants_columns).
"""

from __future__ import annotations

import os
import signal
import sys
import sysconfig

import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

from loadtest.studies.peers import free_port
from loadtest.studies.peers.repository_model import arguments, load
from model_server.runtime import NUMPY_DTYPES


def _tensor(name: str, datatype: str, shape: tuple[int, ...]) -> Tensor:
    dtype = bytes if datatype == "BYTES" else NUMPY_DTYPES[datatype]
    return Tensor(name=name, dtype=dtype, shape=shape[1:] or (1,))


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    model = load(args.model_repository, args.models, args.intra_op_threads)
    card = model.card

    @batch
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        arrays = {}
        for spec in card.inputs:
            value = inputs[spec.name]
            if spec.datatype == "BYTES":  # [batch, 1] of bytes: our model takes one str per row
                value = np.array([b.decode("utf-8") for b in value[:, 0]], dtype=object)
            arrays[spec.name] = value
        outputs = model.predict(arrays)
        # A label per row as a column; .view: onnxruntime's int64 can be numpy's longlong, which PyTriton's
        # output check (under numpy 1.x) does not take for the declared np.int64.
        return {
            s.name: outputs[s.name].reshape(len(outputs[s.name]), -1).view(NUMPY_DTYPES[s.datatype])
            for s in card.outputs
        }

    config = TritonConfig(
        http_address=args.host,
        http_port=args.port,
        grpc_address=args.host,
        grpc_port=free_port(),
        metrics_address=args.host,
        metrics_port=free_port(),
        log_verbose=0,
    )
    # Triton's Python backend stub links libpython3.X from the loader's path: make it this interpreter's, not
    # another install's of the same minor version (whose C modules do not match this stdlib).
    libdir = sysconfig.get_config_var("LIBDIR")
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [libdir, os.environ.get("LD_LIBRARY_PATH")]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwinds through `with Triton`, which stops tritonserver
    with Triton(config=config, workspace=str(args.workdir)) as triton:
        triton.bind(
            model_name=card.name,
            infer_func=infer,
            inputs=[_tensor(s.name, s.datatype, s.shape) for s in card.inputs],
            outputs=[_tensor(s.name, s.datatype, s.shape) for s in card.outputs],
            config=ModelConfig(
                max_batch_size=args.max_batch_size,
                batcher=DynamicBatcher(max_queue_delay_microseconds=int(args.max_queue_delay_ms * 1000)),
            ),
            strict=True,
        )
        triton.serve()


if __name__ == "__main__":
    main()
