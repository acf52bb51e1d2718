"""MLServer's model class for a model of our repository: MLServer codecs in and out, our runtime between."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse

from loadtest.studies.peers.repository_model import load


class RepositoryModel(MLModel):
    async def load(self) -> bool:
        extra = self.settings.parameters.extra
        self.model = load(Path(extra["repository"]), self.name, int(extra["threads"]))
        self.ready = True
        return self.ready

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        inputs = {}
        for request_input in payload.inputs:
            if request_input.datatype == "BYTES":
                inputs[request_input.name] = np.array(StringCodec.decode_input(request_input), dtype=object)
            else:
                inputs[request_input.name] = NumpyCodec.decode_input(request_input)
        outputs = self.model.predict(inputs)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[NumpyCodec.encode_output(name, array) for name, array in outputs.items()],
        )
