"""Export a sentence-transformers model's transformer to ONNX, once, cached under the data dir.

sentence-transformers' own ONNX backend goes through `optimum`, which does not work with
transformers 5; exporting the transformer ourselves with `torch.onnx.export` needs only
torch and transformers. Pooling and normalization are read from the model's
sentence-transformers configuration and applied by retriever/embeddings.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from retriever.atomic_write import replace_atomically
from retriever.errors import EmbeddingError
from retriever.write_lock import exclusive, remove_stale, try_exclusive

log = logging.getLogger(__name__)

OPSET = 17
EXPORT_VERSION = "3"  # bump when the export recipe changes, so caches are redone


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The parts of a sentence-transformers model the ONNX path reproduces."""

    pooling: str  # "mean" or "cls"
    normalize: bool
    dimension: int
    max_seq_length: int
    pad_token_id: int


def read_pipeline(directory: Path) -> Pipeline:
    """Read modules.json and friends; EmbeddingError when the model is not Transformer -> Pooling
    (mean or CLS) -> optional Normalize, the shape the ONNX path reproduces."""
    modules_path = directory / "modules.json"
    if not modules_path.is_file() or not (directory / "tokenizer.json").is_file():
        raise EmbeddingError(f"{directory} is not a sentence-transformers directory with a fast tokenizer")
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads(modules_path.read_text())]
    if modules[:2] != ["Transformer", "Pooling"] or modules[2:] not in ([], ["Normalize"]):
        raise EmbeddingError(f"{directory}: modules {modules} are not Transformer, Pooling[, Normalize]")
    pooling_dir = next(m["path"] for m in json.loads(modules_path.read_text()) if m["type"].endswith("Pooling"))
    pooling = json.loads((directory / pooling_dir / "config.json").read_text())
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True]
    if modes == ["pooling_mode_mean_tokens"]:
        mode = "mean"
    elif modes == ["pooling_mode_cls_token"]:
        mode = "cls"
    else:
        raise EmbeddingError(f"{directory}: pooling {modes} is neither mean nor CLS")
    config = json.loads((directory / "config.json").read_text())
    bert_config_path = directory / "sentence_bert_config.json"
    bert_config = json.loads(bert_config_path.read_text()) if bert_config_path.is_file() else {}
    max_length = int(bert_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
    return Pipeline(
        pooling=mode,
        normalize="Normalize" in modules,
        dimension=int(pooling["word_embedding_dimension"]),
        max_seq_length=max_length,
        pad_token_id=int(config.get("pad_token_id") or 0),
    )


def _cache_key(directory: Path) -> str:
    digest = hashlib.sha256()
    digest.update(EXPORT_VERSION.encode())
    for name in ("config.json", "modules.json"):
        digest.update((directory / name).read_bytes())
    weights = sorted(directory.glob("*.safetensors")) + sorted(directory.glob("*.bin"))
    for path in weights:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}".encode())
    return digest.hexdigest()[:16]


EXPORT_TEMP_PREFIX = ".export-"


def exported_model(directory: Path, cache_dir: Path, quantize: bool = True) -> Path:
    """The ONNX file for the model in `directory`, exported on first use into
    `cache_dir/onnx/<name>-<hash>/`: the plain fp32 graph, or with `quantize` the graph with
    transformer fusions (where they check out) and int8 weights.

    One process exports at a time (a lock in the folder); the temporary folders of an export
    that was killed are removed by the next call that holds the lock."""
    target = cache_dir / "onnx" / f"{directory.name}-{_cache_key(directory)}"
    fp32_path = target / "model.onnx"
    int8_path = target / "model.int8.onnx"
    wanted = int8_path if quantize else fp32_path
    if wanted.is_file():
        lock = try_exclusive(target / "export")
        if lock is not None:  # nobody is exporting: any temporary folder is a killed export's
            with lock:
                remove_stale(target, [EXPORT_TEMP_PREFIX + "*"])
        return wanted
    target.mkdir(parents=True, exist_ok=True)
    with exclusive(target / "export", f"exporting {directory.name} to ONNX in {target}"):
        remove_stale(target, [EXPORT_TEMP_PREFIX + "*"])
        if not fp32_path.is_file():
            log.info("exporting %s to ONNX (once) into %s", directory, target)
            replace_atomically(fp32_path, lambda tmp: _export(directory, tmp), EXPORT_TEMP_PREFIX)
        if quantize and not int8_path.is_file():
            source = _fused(directory, fp32_path, target / "model.fused.onnx")
            log.info("quantizing %s to int8", source)
            replace_atomically(int8_path, lambda tmp: _quantize(source, tmp), EXPORT_TEMP_PREFIX)
    return wanted


class _OnlyErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


@contextmanager
def _quiet():
    """Silence the exporter's and quantizer's advice to developers (tracer warnings, the
    quantizer's "consider pre-processing" on the root logger), which a user embedding papers
    for the first time cannot act on. Only records of the root logger itself are filtered:
    every named logger (ours included) keeps its level."""
    root, only_errors = logging.getLogger(), _OnlyErrors()
    root.addFilter(only_errors)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(only_errors)


def _export(directory: Path, out_path: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    try:
        # eager attention traces to plain ops that stay correct for any padding pattern
        model = AutoModel.from_pretrained(str(directory), attn_implementation="eager").eval()
    except (OSError, ValueError) as error:
        raise EmbeddingError(f"cannot load {directory} for ONNX export: {error}") from None

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # two rows of different lengths, so the traced graph keeps the padding path
    input_ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 3231, 102, 0, 0, 0]])
    attention_mask = (input_ids != 0).long()
    token_type_ids = torch.zeros_like(input_ids)
    dynamic = {0: "batch", 1: "tokens"}
    with torch.no_grad(), _quiet():
        torch.onnx.export(
            TokenEmbeddings(model),
            (input_ids, attention_mask, token_type_ids),
            str(out_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                "token_type_ids": dynamic,
                "token_embeddings": dynamic,
            },
            opset_version=OPSET,
            dynamo=False,
        )


def _fused(directory: Path, fp32_path: Path, fused_path: Path) -> Path:
    """The graph to quantize: `fused_path`, ONNX Runtime's transformer fusions (one Attention
    op for the QKV projections and the attention, SkipLayerNorm, BiasGelu) of the fp32
    export, made once and kept only where it reproduces the export on a probe batch;
    otherwise the export itself, so an architecture the fusions misread costs speed, never
    vectors. 1.02-1.07x papers/s once quantized (bench/embedding_quantization.py)."""
    if fused_path.is_file():
        return fused_path
    config = json.loads((directory / "config.json").read_text())
    heads, hidden = config.get("num_attention_heads"), config.get("hidden_size")
    try:
        if config.get("model_type") != "bert" or not heads or not hidden:
            raise ValueError(f"model_type {config.get('model_type')!r} is not one the BERT fusions are checked on")
        replace_atomically(fused_path, lambda tmp: _fuse(fp32_path, tmp, heads, hidden), EXPORT_TEMP_PREFIX)
    except Exception as error:  # any failure of the optional fusion falls back to the plain export
        log.warning("transformer fusions not applied to %s: %s", directory.name, error)
        return fp32_path
    return fused_path


def _fuse(fp32_path: Path, out_path: Path, heads: int, hidden: int) -> None:
    """Write the fused graph of `fp32_path` to `out_path`; ValueError if it changes the outputs."""
    from onnxruntime.transformers import optimizer

    with _quiet():
        fused = optimizer.optimize_model(str(fp32_path), model_type="bert", num_heads=heads, hidden_size=hidden)
        fused.save_model_to_file(str(out_path))
    difference = _largest_difference(fp32_path, out_path)
    if not difference <= 1e-3:
        raise ValueError(f"the fused graph differs from the export by {difference:.2e}")
    log.info("fused %s (largest difference on the probe batch %.1e)", fp32_path.name, difference)


def _largest_difference(reference_path: Path, candidate_path: Path) -> float:
    """Largest absolute difference of two graphs' token embeddings on a padded probe batch."""
    import numpy as np
    import onnxruntime

    rng = np.random.default_rng(0)
    input_ids = rng.integers(1000, 20000, size=(3, 40), dtype=np.int64)
    attention_mask = np.ones_like(input_ids)
    attention_mask[1, 25:] = 0
    attention_mask[2, 7:] = 0
    input_ids[attention_mask == 0] = 0
    feeds = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": np.zeros_like(input_ids)}
    outputs = []
    for path in (reference_path, candidate_path):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        (hidden,) = session.run(None, {k: v for k, v in feeds.items() if k in names})
        outputs.append(hidden * attention_mask[:, :, None])  # padded positions are never pooled
    return float(np.abs(outputs[0] - outputs[1]).max())


def _quantize(fp32_path: Path, out_path: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Signed 7-bit weights (reduce_range) with per-channel scales. ONNX Runtime's fastest
    # int8 kernel on AVX2 multiplies u8 activations by s8 weights with vpmaddubsw, which
    # saturates a pair's sum at int16; 7-bit weights keep it in range on CPUs without VNNI,
    # and run a faster kernel than u8 weights at the same fidelity (bench/RESULTS.md).
    with _quiet():
        quantize_dynamic(
            str(fp32_path),
            str(out_path),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
