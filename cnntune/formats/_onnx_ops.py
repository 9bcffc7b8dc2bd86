"""TensorFlow ops tf2onnx cannot convert, and what cnntune's models need of them.

Keras' exact GELU (``activation: gelu``) lowers to ``Erfc`` in TensorFlow, which tf2onnx 1.17
has no handler for, so the ONNX file would hold an op onnxruntime refuses. ``register()``
teaches tf2onnx ``erfc(x) = 1 - erf(x)`` with ONNX's own Erf (opset 9+). Imported only when an
ONNX export runs.
"""

from __future__ import annotations

_done = False


def register() -> None:
    global _done
    if _done:
        return
    import numpy as np
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:  # noqa: F841 - registered by the decorator
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            node.type = "Erf"
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
            one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype))
            sub = ctx.insert_new_node_on_output("Sub", node.output[0],
                                                name=utils.make_name(f"{node.name}_1m"),
                                                inputs=[one.output[0], node.output[0]])
            ctx.copy_shape(node.output[0], sub.output[0])
            ctx.set_dtype(sub.output[0], ctx.get_dtype(node.output[0]))

    _done = True
