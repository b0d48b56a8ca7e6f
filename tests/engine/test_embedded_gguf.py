"""The bundled SmolLM2-135M GGUF through our loader against transformers' own GGUF loading."""

from __future__ import annotations

import pytest
import torch

from engine.embedded import embedded_model_path
from engine.errors import CheckpointError
from engine.loading import load_model

# Both sides dequantize the same Q4_1/Q8_0 tensors to fp32 with the gguf package and run fp32,
# so the weights are bit-identical and only the order of fp32 operations differs (fused qkv,
# grouped GQA rows, SDPA kernels) over 30 layers: logits of magnitude ~10-30 then differ by
# ~1e-4. 2e-3 absolute is far below the effect of any real error (a q/k permutation left in
# place, a wrong RoPE base or norm epsilon changes logits by whole units).
ABSOLUTE_TOLERANCE = 2e-3


@pytest.fixture(scope="module")
def embedded_path():
    try:
        return embedded_model_path()
    except CheckpointError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_embedded_model_equals_transformers_gguf_and_answers_offline(embedded_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    from engine.local import LocalEngine
    from engine.types import SamplingParams

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ours = load_model("embedded", device="cpu", dtype="float32")
    reference = AutoModelForCausalLM.from_pretrained(
        str(embedded_path.parent), gguf_file=embedded_path.name, dtype=torch.float32
    ).eval()
    prompt = ours.tokenizer.chat_prompt([{"role": "user", "content": "Name three uses of sparse attention."}])
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        logits = ours.model(ids, torch.arange(len(prompt))[None])
        expected = reference(ids).logits.float()
    assert (logits - expected).abs().max().item() <= ABSOLUTE_TOLERANCE
    assert torch.equal(logits[0].argmax(-1), expected[0].argmax(-1))

    engine = LocalEngine(ours)
    assert engine.context_window == 8192 and ours.eos_token_ids == (2,)
    reply = engine.chat(
        [{"role": "user", "content": "What is the capital of France?"}], SamplingParams(max_new_tokens=12)
    )
    assert "Paris" in reply.text and reply.finish_reason == "stop"
