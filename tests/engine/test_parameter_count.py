"""ModelConfig.parameter_count against models whose sizes are published."""

import dataclasses

from engine.config import ModelConfig

TINY = ModelConfig(vocab_size=100, hidden_size=8, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=16)


def test_smollm2_135m_counts_its_published_parameters():
    # SmolLM2-135M's GGUF metadata reports 134.5M parameters (tied embeddings).
    config = ModelConfig(
        vocab_size=49152,
        hidden_size=576,
        num_layers=30,
        num_heads=9,
        num_kv_heads=3,
        intermediate_size=1536,
        tie_word_embeddings=True,
    )
    assert config.parameter_count == 134_515_008


def test_untied_embeddings_count_lm_head_too():
    tied = dataclasses.replace(TINY, tie_word_embeddings=True)
    untied = dataclasses.replace(TINY, tie_word_embeddings=False)
    assert untied.parameter_count - tied.parameter_count == 100 * 8
    # q and o: 8x8 each; k and v: 8x4 each; MLP 3x8x16; two norms; embeddings 800; final norm 8.
    assert tied.parameter_count == 800 + (64 + 64 + 32 + 32 + 384 + 16) + 8
