"""BART with its own generation settings (beam search) beside the fixed-token variant: the studies ran the
model as its config says, not 32 greedy tokens."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from infermeter.workloads.text import BART_CNN_GENERATION, BartLargeCnn, BartLargeCnnBeam  # noqa: E402
from infermeter.workloads.torch_modules import BeamSummary  # noqa: E402


def _tiny_bart():
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(0)
    return BartForConditionalGeneration(BartConfig(vocab_size=100, d_model=16, encoder_layers=1, decoder_layers=1,
                                                   encoder_attention_heads=2, decoder_attention_heads=2,
                                                   encoder_ffn_dim=32, decoder_ffn_dim=32)).eval()


def test_beam_search_runs_the_models_settings_and_returns_one_shape():
    m = BeamSummary(_tiny_bart(), BART_CNN_GENERATION).eval()
    ids = torch.randint(3, 100, (2, 20))
    with torch.no_grad():
        out = m(ids, torch.ones_like(ids))
    assert out.shape == (2, BART_CNN_GENERATION["max_length"])
    assert out[:, :2].tolist() == [[2, 0], [2, 0]]  # starts with </s>, then <s> forced, as bart-large-cnn does


def test_a_summary_that_ends_early_is_padded_to_max_length():
    class Stub(torch.nn.Module):
        config = type("C", (), {"pad_token_id": 1})()

        def generate(self, **kw):
            assert kw["num_beams"] == 4 and kw["length_penalty"] == 2.0 and kw["no_repeat_ngram_size"] == 3
            return torch.tensor([[2, 0, 7, 2]])

    out = BeamSummary(Stub(), BART_CNN_GENERATION)(torch.zeros(1, 4, dtype=torch.long), torch.ones(1, 4, dtype=torch.long))
    assert out.shape == (1, 142) and out[0, :4].tolist() == [2, 0, 7, 2] and set(out[0, 4:].tolist()) == {1}


def test_the_two_variants_are_labelled_and_cached_apart():
    beam, greedy = BartLargeCnnBeam(), BartLargeCnn()
    assert beam.config()["generation"] == BART_CNN_GENERATION and "new_tokens" not in beam.config()
    assert beam.config()["seq_len"] == greedy.config()["seq_len"] == 256
    assert beam.fingerprint() != greedy.fingerprint()
    assert "beam search" in beam.description and "32 new tokens" in greedy.description
    assert "num_beams=4" in beam.provenance().notes[0] and "greedy" in greedy.provenance().notes[0]
