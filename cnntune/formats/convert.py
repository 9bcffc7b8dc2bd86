"""A trained Keras model as the inference model every export format writes
(``registry``: each format's writer).

Shared by the export command (``deploy.export``) and the latency a trial measures
(``worker.latency``), so that both run the same conversion.

The inference model is the trained network called with ``training=False``, so augmentation
and dropout are off and batch norm uses its moving statistics. (Keras 3 traces a model that
contains random augmentation layers in training mode when it is called without ``training``,
which would export batch norm in training mode; the wrapper avoids that.)
"""

from __future__ import annotations


def inference_model(model):
    """``model`` called with training=False, as a model of its own (see the module doc)."""
    import keras

    if getattr(model, "_cnntune_inference", False):
        return model
    model = as_float32(model)
    inputs = keras.Input(shape=model.input_shape[1:], name=model.inputs[0].name.split(":")[0])
    outputs = model(inputs, training=False)
    infer = keras.Model(inputs, outputs, name=f"{model.name}_inference")
    infer._cnntune_inference = True
    return infer


def as_float32(model):
    """``model`` itself, or for a model trained in mixed precision the same model computing in
    float32 (its weights are float32 already): exports and their checks run in float32."""
    if all(layer.compute_dtype == "float32" for layer in model._flatten_layers()):
        return model

    def plain(node):
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy" and \
                    str(node.get("config", {}).get("name", "")).startswith("mixed_"):
                return dict(node, config=dict(node["config"], name="float32"))
            return {k: plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        return node

    copy = model.__class__.from_config(plain(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy
