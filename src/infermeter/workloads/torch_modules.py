"""torch.nn.Module classes of the workloads, at module level so that torch.save can pickle them.

Imported only by workload methods that build a torch model: it imports torch at the top.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class ImageLogits(nn.Module):
    """A transformers image classifier whose forward(pixel_values) returns the logits tensor."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.inner(pixel_values=pixel_values).logits


class SequenceLogits(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


class MeanPooledEmbedding(nn.Module):
    """Sentence-transformers style: mean of token states over the attention mask, L2-normalised."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2, dim=1)


class GreedySummary(nn.Module):
    """generate() with exactly `new_tokens` greedy tokens: every call does the same decoding work."""

    def __init__(self, inner: nn.Module, new_tokens: int) -> None:
        super().__init__()
        self.inner = inner
        self.new_tokens = new_tokens

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        n = self.new_tokens
        return self.inner.generate(
            input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=n, min_new_tokens=n,
            num_beams=1, do_sample=False,
        )


class BeamSummary(nn.Module):
    """generate() with a model's own generation settings (beam search; its lengths vary with where each
    summary ends), the answer padded to max_length so that every call returns one shape."""

    def __init__(self, inner: nn.Module, generation: dict[str, Any]) -> None:
        super().__init__()
        self.inner = inner
        self.generation = dict(generation)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.inner.generate(input_ids=input_ids, attention_mask=attention_mask, do_sample=False, **self.generation)
        pad = int(self.inner.config.pad_token_id)
        return nn.functional.pad(out, (0, self.generation["max_length"] - out.shape[1]), value=pad)


class CtcLogits(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return self.inner(input_values=input_values).logits


class CtcLogitsToFrames(nn.Module):
    """CTC logits padded with zeros (or cut) to `frames`, so that clips of their own lengths all return one
    shape: the frames of the longest clip of the sample set."""

    def __init__(self, inner: nn.Module, frames: int) -> None:
        super().__init__()
        self.inner = inner
        self.frames = frames

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        logits = self.inner(input_values=input_values).logits
        return nn.functional.pad(logits, (0, 0, 0, self.frames - logits.shape[1]))


VGG19_STAGES = ((1, 64, 2), (2, 128, 2), (3, 256, 4), (4, 512, 4), (5, 512, 4))


class VGG19(nn.Module):
    """VGG19 after the paper; layers are named as in keras.applications.VGG19."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleDict()
        cin = 3
        for block, width, convs in VGG19_STAGES:
            for i in range(convs):
                self.layers[f"block{block}_conv{i + 1}"] = nn.Conv2d(cin, width, 3, padding=1)
                cin = width
        self.layers["fc1"] = nn.Linear(512 * 7 * 7, 4096)
        self.layers["fc2"] = nn.Linear(4096, 4096)
        self.layers["predictions"] = nn.Linear(4096, 1000)
        # No BatchNorm in VGG: He init keeps activations from vanishing or exploding.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = pixel_values
        for block, _, convs in VGG19_STAGES:
            for i in range(convs):
                x = torch.relu(self.layers[f"block{block}_conv{i + 1}"](x))
            x = nn.functional.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = torch.relu(self.layers["fc1"](x))
        x = torch.relu(self.layers["fc2"](x))
        return self.layers["predictions"](x)


class DenseNet(nn.Module):
    """DenseNet-BC after the paper; layers are named as in keras.applications.DenseNet*."""

    def __init__(self, blocks: tuple[int, ...] = (6, 12, 48, 32), growth: int = 32, eps: float = 1.001e-5) -> None:
        super().__init__()
        self.blocks = blocks
        layers = nn.ModuleDict()
        layers["conv1_conv"] = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        layers["conv1_bn"] = nn.BatchNorm2d(64, eps=eps)
        channels = 64
        for b, count in enumerate(blocks):
            for j in range(count):
                p = f"conv{b + 2}_block{j + 1}"
                layers[f"{p}_0_bn"] = nn.BatchNorm2d(channels, eps=eps)
                layers[f"{p}_1_conv"] = nn.Conv2d(channels, 4 * growth, 1, bias=False)
                layers[f"{p}_1_bn"] = nn.BatchNorm2d(4 * growth, eps=eps)
                layers[f"{p}_2_conv"] = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)
                channels += growth
            if b < len(blocks) - 1:
                layers[f"pool{b + 2}_bn"] = nn.BatchNorm2d(channels, eps=eps)
                layers[f"pool{b + 2}_conv"] = nn.Conv2d(channels, channels // 2, 1, bias=False)
                channels //= 2
        layers["bn"] = nn.BatchNorm2d(channels, eps=eps)
        layers["predictions"] = nn.Linear(channels, 1000)
        self.layers = layers

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        L = self.layers
        x = torch.relu(L["conv1_bn"](L["conv1_conv"](pixel_values)))
        x = nn.functional.max_pool2d(x, 3, stride=2, padding=1)
        for b, count in enumerate(self.blocks):
            for j in range(count):
                p = f"conv{b + 2}_block{j + 1}"
                y = L[f"{p}_1_conv"](torch.relu(L[f"{p}_0_bn"](x)))
                y = L[f"{p}_2_conv"](torch.relu(L[f"{p}_1_bn"](y)))
                x = torch.cat([x, y], dim=1)
            if b < len(self.blocks) - 1:
                x = L[f"pool{b + 2}_conv"](torch.relu(L[f"pool{b + 2}_bn"](x)))
                x = nn.functional.avg_pool2d(x, 2)
        x = torch.relu(L["bn"](x)).mean(dim=(2, 3))
        return L["predictions"](x)




class LstmForecaster(nn.Module):
    """LSTM over a window, a linear head on the last step's state: one number per window."""

    def __init__(self, features: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(window)
        return self.head(states[:, -1])


class SentimentHead(nn.Module):
    """Two-class logits from a sentence embedding and a fitted logistic regression (w, b)."""

    def __init__(self, encoder: nn.Module, w: np.ndarray, b: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(len(w), 2)
        with torch.no_grad():
            weight = torch.tensor(w, dtype=torch.float32)
            self.head.weight.copy_(torch.stack([-weight / 2, weight / 2]))
            self.head.bias.copy_(torch.tensor([-b / 2, b / 2], dtype=torch.float32))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(input_ids, attention_mask, token_type_ids))
