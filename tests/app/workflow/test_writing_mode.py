"""writer.mode: auto picks grounded for small local models, abstractive for capable ones."""

from types import SimpleNamespace

import pytest

from app.settings import Settings
from app.workflow.writing_mode import resolve_writing
from engine.config import ModelConfig

SMOLLM2 = ModelConfig(
    vocab_size=49152,
    hidden_size=576,
    num_layers=30,
    num_heads=9,
    num_kv_heads=3,
    intermediate_size=1536,
    tie_word_embeddings=True,
)
MINICPM4_8B = ModelConfig(
    vocab_size=73448, hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=2, intermediate_size=16384
)


def local(config):
    return SimpleNamespace(model=SimpleNamespace(config=config), name="local")


def settings(**writer):
    return Settings(writer=writer)


def test_auto_writes_grounded_with_the_embedded_model():
    plan = resolve_writing(settings(), local(SMOLLM2))
    assert (plan.mode, plan.model_plans, plan.parameters) == ("grounded", False, 134_515_008)
    assert "135M weights, below 3,000M" in plan.reason


def test_auto_writes_abstractive_with_an_8b_model():
    plan = resolve_writing(settings(), local(MINICPM4_8B))
    assert (plan.mode, plan.model_plans) == ("abstractive", True)


def test_the_size_cut_off_is_a_setting():
    plan = resolve_writing(settings(grounded_below_parameters=100e6), local(SMOLLM2))
    assert (plan.mode, plan.model_plans) == ("abstractive", True)


def test_a_served_model_is_capable():
    served = Settings(llm={"backend": "openai", "model": "m"})
    plan = resolve_writing(served, SimpleNamespace(name="m"))
    assert (plan.mode, plan.model_plans, plan.parameters) == ("abstractive", True, None)


@pytest.mark.parametrize("mode", ["grounded", "abstractive"])
def test_an_explicit_mode_wins_and_keeps_the_capability(mode):
    plan = resolve_writing(settings(mode=mode), local(MINICPM4_8B))
    assert (plan.mode, plan.model_plans) == (mode, True)
    plan = resolve_writing(settings(mode=mode), local(SMOLLM2))
    assert (plan.mode, plan.model_plans) == (mode, False)


def test_a_local_model_of_unknown_size_writes_grounded():
    plan = resolve_writing(settings(), SimpleNamespace(name="x"))
    assert (plan.mode, plan.model_plans, plan.parameters) == ("grounded", False, None)
