"""Image classification workloads: ResNet-50, VGG19, DenseNet201, EfficientNet-B0.

Weights are seeded random (no hub download exists here); BatchNorm statistics are then calibrated on the
sample photos, so activations stay in a realistic range and top-1 predictions are not near-ties. The
TensorFlow engines get the Keras definition with the very same weights copied in (see keras_port).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from infermeter.workloads import images
from infermeter.workloads.base import ONNX, OPENVINO, SAVEDMODEL, TORCH, TORCHSCRIPT, Provenance, TensorSpec, Workload


def calibrate_batchnorm(module: Any, batch: np.ndarray) -> None:
    """Set BatchNorm running statistics from one forward pass over `batch` (cumulative average)."""
    import torch

    bns = [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            # Identity affine part: some random inits (transformers' EfficientNet) draw BN scales near 0,
            # which makes activations vanish layer after layer.
            bn.weight.fill_(1.0)
            bn.bias.zero_()
            bn.reset_running_stats()
            bn.momentum = None
    module.train()
    with torch.no_grad():
        module(torch.from_numpy(batch))
    module.eval()


def centre_logits(module: Any, batch: np.ndarray) -> None:
    """Shift the last linear layer's bias so the mean logit over `batch` is zero for every class.

    A random network tends to give every photo the same top class, which would make top-1 agreement a
    test that cannot fail; centred logits make the top class depend on the photo.
    """
    import torch

    last = [m for m in module.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        logits = module(torch.from_numpy(batch))
        last.bias -= logits.mean(dim=0)


class ImageClassification(Workload):
    definition_version = 2
    task = "image-classification"
    formats = frozenset({TORCH, TORCHSCRIPT, ONNX, OPENVINO, SAVEDMODEL})
    size = 224

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec("pixel_values", (None, 3, self.size, self.size), "float32")]

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        return [{"pixel_values": img} for img in images.imagenet_photos(self.size)]

    payload_content_type = "image/jpeg"

    def payloads(self) -> list[bytes]:
        return [images.jpeg(img) for img in images.raw_photos()]

    def decode_payload(self, data: bytes) -> dict[str, np.ndarray]:
        return {"pixel_values": images.preprocess(images.decode_jpeg(data), self.size)}

    def postprocess(self, output: np.ndarray) -> Any:
        """Top-5 classes with their softmax probabilities."""
        z = np.exp(output - output.max())
        p = z / z.sum()
        top = np.argsort(p)[::-1][:5]
        return {"top5": [[int(i), float(p[i])] for i in top]}

    def provenance(self) -> Provenance:
        return Provenance(
            weights=f"seeded random weights (torch.manual_seed({self.seed})), BatchNorm statistics calibrated "
            "and final-layer bias centred on the sample photos; not trained: predictions are meaningless, speed is real",
            inputs=images.photos_note(),
        )

    def _build(self) -> Any:
        raise NotImplementedError

    def torch_module(self) -> Any:
        import torch

        torch.manual_seed(self.seed)
        module = self._build()
        photos = np.stack([s["pixel_values"] for s in self.samples()])
        calibrate_batchnorm(module, photos)
        centre_logits(module, photos)
        return module

    def _keras_base(self) -> Any:
        from infermeter.errors import UnsupportedError

        raise UnsupportedError(f"workload {self.name!r} has no Keras definition")

    def _keras_layer_map(self, module: Any) -> dict[str, Any]:
        raise NotImplementedError

    _flatten_from: dict[str, tuple[int, int, int]] = {}

    def keras_model(self, torch_module: Any | None = None) -> Any:
        from infermeter.workloads import keras_port

        module = torch_module if torch_module is not None else self.torch_module()
        base = self._keras_base()
        keras_port.copy_weights(self._keras_layer_map(module), base, self._flatten_from)
        return keras_port.nchw_model(base, 3, self.size)


class ResNet50(ImageClassification):
    name = "resnet50"
    description = "ResNet-50 v1 (transformers ResNetConfig, stride in the first 1x1 like Keras), 224x224"

    def _build(self) -> Any:
        from transformers import ResNetConfig, ResNetForImageClassification

        from infermeter.workloads.torch_modules import ImageLogits

        return ImageLogits(ResNetForImageClassification(ResNetConfig(downsample_in_bottleneck=True, num_labels=1000))).eval()

    def _keras_base(self) -> Any:
        import keras

        return keras.applications.ResNet50(weights=None, classifier_activation=None)

    def _keras_layer_map(self, module: Any) -> dict[str, Any]:
        net = module.inner.resnet
        out = {"conv1_conv": net.embedder.embedder.convolution, "conv1_bn": net.embedder.embedder.normalization}
        for s, stage in enumerate(net.encoder.stages):
            for j, layer in enumerate(stage.layers):
                prefix = f"conv{s + 2}_block{j + 1}"
                if hasattr(layer.shortcut, "convolution"):
                    out[f"{prefix}_0_conv"] = layer.shortcut.convolution
                    out[f"{prefix}_0_bn"] = layer.shortcut.normalization
                for k, conv in enumerate(layer.layer):
                    out[f"{prefix}_{k + 1}_conv"] = conv.convolution
                    out[f"{prefix}_{k + 1}_bn"] = conv.normalization
        out["predictions"] = module.inner.classifier[1]
        return out


class VGG19(ImageClassification):
    name = "vgg19"
    description = "VGG19 (written here after the paper, layers named as in Keras), 224x224"
    _flatten_from = {"fc1": (512, 7, 7)}

    def _build(self) -> Any:
        from infermeter.workloads.torch_modules import VGG19 as TorchVGG19

        return TorchVGG19().eval()

    def _keras_base(self) -> Any:
        import keras

        return keras.applications.VGG19(weights=None, classifier_activation=None)

    def _keras_layer_map(self, module: Any) -> dict[str, Any]:
        return dict(module.layers.items())


class DenseNet201(ImageClassification):
    name = "densenet201"
    description = "DenseNet-201 (written here after the paper, layers named as in Keras), 224x224"

    def _build(self) -> Any:
        from infermeter.workloads.torch_modules import DenseNet

        return DenseNet((6, 12, 48, 32)).eval()

    def _keras_base(self) -> Any:
        import keras

        return keras.applications.DenseNet201(weights=None, classifier_activation=None)

    def _keras_layer_map(self, module: Any) -> dict[str, Any]:
        return dict(module.layers.items())


class EfficientNetB0(ImageClassification):
    name = "efficientnet_b0"
    description = "EfficientNet-B0 (transformers EfficientNetConfig with the B0 coefficients), 224x224"
    formats = frozenset({TORCH, TORCHSCRIPT, ONNX, OPENVINO})  # Keras port not written: see keras_model
    definition_version = 3

    def _build(self) -> Any:
        import torch
        from transformers import EfficientNetConfig, EfficientNetForImageClassification

        from infermeter.workloads.torch_modules import ImageLogits

        # EfficientNetConfig() defaults are B7; these are B0's coefficients (5.3 M parameters).
        config = EfficientNetConfig(
            num_labels=1000, width_coefficient=1.0, depth_coefficient=1.0, image_size=224, dropout_rate=0.2, hidden_dim=1280
        )
        model = EfficientNetForImageClassification(config)
        # transformers pools with AvgPool2d(kernel=1280, ceil_mode=True) over the 7x7 map, which PyTorch
        # treats as a global average but OpenVINO's CPU plugin rejects; a global average pool is the same.
        model.efficientnet.pooler = torch.nn.AdaptiveAvgPool2d(1)
        return ImageLogits(model).eval()

    def keras_model(self, torch_module: Any | None = None) -> Any:
        from infermeter.errors import UnsupportedError

        raise UnsupportedError(
            "efficientnet_b0 has no TensorFlow port yet: Keras' EfficientNetB0 embeds its own rescaling and "
            "normalisation layers, so the shared weights cannot be copied layer for layer"
        )
