"""Copy a PyTorch model's weights into the equivalent Keras model, layer by layer, by name.

The TensorFlow engines run Keras definitions of the vision models. Without this, they would run different
random weights from every other engine and no parity check would be possible. Each vision workload
provides a map from Keras layer name to the torch module holding that layer's weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from infermeter.errors import UnsupportedError


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy()


def copy_weights(layer_map: dict[str, Any], keras_model: Any, flatten_from: dict[str, tuple[int, int, int]] | None = None) -> int:
    """Copy weights of each torch module in `layer_map` into the Keras layer of that name.

    `flatten_from` names Dense layers fed by a Flatten of a (C, H, W) torch tensor: Keras flattens
    (H, W, C), so those kernels' input rows are permuted. Returns the number of layers copied.
    Every Keras layer with weights must be covered, so nothing is silently left random.
    """
    import torch

    flatten_from = flatten_from or {}
    weighted = {layer.name for layer in keras_model.layers if layer.weights}
    missing = weighted - set(layer_map)
    if missing:
        raise UnsupportedError(f"Keras port incomplete: no torch weights for {sorted(missing)[:5]}")
    for name, module in layer_map.items():
        layer = keras_model.get_layer(name)
        kind = type(layer).__name__
        if isinstance(module, torch.nn.Conv2d) and kind == "DepthwiseConv2D":
            w = [_np(module.weight).transpose(2, 3, 0, 1)]
        elif isinstance(module, torch.nn.Conv2d):
            w = [_np(module.weight).transpose(2, 3, 1, 0)]
        elif isinstance(module, torch.nn.Linear):
            kernel = _np(module.weight)
            if name in flatten_from:
                c, h, wd = flatten_from[name]
                kernel = kernel.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(kernel.shape[0], -1)
            w = [kernel.T]
        elif isinstance(module, torch.nn.BatchNorm2d):
            w = [_np(module.weight), _np(module.bias), _np(module.running_mean), _np(module.running_var)]
            layer.epsilon = float(module.eps)
        else:
            raise UnsupportedError(f"Keras port: cannot copy {type(module).__name__} into {kind} {name!r}")
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense") and layer.use_bias:
            bias = getattr(module, "bias", None)
            w.append(_np(bias) if bias is not None else np.zeros(layer.weights[1].shape, np.float32))
        expected = [tuple(v.shape) for v in layer.get_weights()]
        if [tuple(a.shape) for a in w] != expected:
            raise UnsupportedError(f"Keras port: shape mismatch at {name!r}: {[a.shape for a in w]} vs {expected}")
        layer.set_weights(w)
    return len(layer_map)


def nchw_model(base: Any, channels: int, size: int) -> Any:
    """Wrap a Keras (NHWC) model so it takes the same NCHW tensor as every other engine."""
    import keras

    inp = keras.Input((channels, size, size), name="pixel_values")
    return keras.Model(inp, base(keras.layers.Permute((2, 3, 1))(inp)), name=base.name)
