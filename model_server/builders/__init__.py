"""Builders for the model repository (`make models`). Needs the `models` extra: scikit-learn, skl2onnx, onnx."""
