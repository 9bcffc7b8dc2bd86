"""Model formats, below both training and deployment: turning a trained Keras model into an
inference model and writing it as .keras, SavedModel, TFLite or ONNX (``convert``), and loading
any of them back to run it (``runtimes``)."""
