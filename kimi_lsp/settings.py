"""The settings tree: fully defaulted, typed, frozen; camelCase on the wire.

Owns parsing the raw JSON a client sends (initializationOptions, workspace/didChangeConfiguration) into
`Settings`. Parsing never raises: an invalid value falls back to its default and is reported by its dotted
wire name, so the server can tell the user once. No I/O here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

ENGINE_APIS = ("native", "openai")  # SGLang's /generate; any OpenAI-compatible /v1/completions (model/openai.py)
MODEL_PROFILES = ("kimi-tiny", "kimi-tiny-fim", "qwen2.5-coder", "deepseek-coder", "starcoder", "kimi-k2")


def _check(predicate: Callable[[Any], bool], rule: str) -> dict[str, Any]:
    return {"check": predicate, "rule": rule}


@dataclass(slots=True, frozen=True)
class EngineSettings:
    url: str | None = field(
        default=None, metadata=_check(lambda v: v.startswith(("http://", "https://")), "an http(s) URL")
    )
    api_key: str | None = None  # else the KIMI_LSP_API_KEY environment variable (model/host.py reads it)
    timeout_ms: int = field(default=10_000, metadata=_check(lambda v: 100 <= v <= 600_000, "100..600000"))
    deadline_ms: int = field(default=15_000, metadata=_check(lambda v: 100 <= v <= 600_000, "100..600000"))
    ca_bundle: str | None = None  # a PEM file of certificate authorities to trust for an https:// engine
    python: str | None = None  # the interpreter with SGLang that runs the embedded engine (model/embedded.py)
    api: str = field(default="native", metadata=_check(lambda v: v in ENGINE_APIS, " | ".join(ENGINE_APIS)))
    model: str | None = None  # the model name an OpenAI-compatible server is asked for (None: its first listed)
    workers: tuple[str, ...] = field(  # the workers behind a router: each is told of an abort (model/client.py)
        default=(), metadata=_check(lambda v: all(u.startswith(("http://", "https://")) for u in v), "http(s) URLs")
    )


@dataclass(slots=True, frozen=True)
class ModelSettings:
    profile: str = field(
        default="kimi-tiny", metadata=_check(lambda v: v in MODEL_PROFILES, " | ".join(MODEL_PROFILES))
    )
    max_tokens: int = field(default=64, metadata=_check(lambda v: 1 <= v <= 4096, "1..4096"))
    temperature: float = field(default=0.0, metadata=_check(lambda v: 0.0 <= v <= 2.0, "0.0..2.0"))
    # inline suggestions for an explicitly invoked request (cycled in the editor); an automatic one gets one
    suggestions: int = field(default=3, metadata=_check(lambda v: 1 <= v <= 8, "1..8"))


@dataclass(slots=True, frozen=True)
class ContextSettings:
    cross_file_tokens: int = field(default=2048, metadata=_check(lambda v: 0 <= v <= 65_536, "0..65536"))
    prompt_tokens: int = field(default=4096, metadata=_check(lambda v: 512 <= v <= 262_144, "512..262144"))


@dataclass(slots=True, frozen=True)
class FeatureSettings:
    inline_completion: bool = True
    completion: bool = True
    diagnostics: bool = True
    code_actions: bool = True


@dataclass(slots=True, frozen=True)
class ReviewSettings:
    """Model review as diagnostics (review.py): on save and after `idle_ms` without a change."""

    enabled: bool = True
    idle_ms: int = field(default=2_000, metadata=_check(lambda v: 100 <= v <= 600_000, "100..600000"))
    min_confidence: float = field(default=0.5, metadata=_check(lambda v: 0.0 <= v <= 1.0, "0.0..1.0"))


@dataclass(slots=True, frozen=True)
class Settings:
    engine: EngineSettings = EngineSettings()
    model: ModelSettings = ModelSettings()
    debounce_ms: int = field(default=20, metadata=_check(lambda v: 0 <= v <= 2_000, "0..2000"))
    features: FeatureSettings = FeatureSettings()
    context: ContextSettings = ContextSettings()
    exclude: tuple[str, ...] = ()
    review: ReviewSettings = ReviewSettings()


class ParseResult(NamedTuple):
    settings: Settings
    invalid: tuple[str, ...]  # dotted camelCase names of values that fell back to their default


def camel(name: str) -> str:
    """snake_case -> camelCase, the spelling on the wire."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def parse_settings(raw: object, base: Settings | None = None) -> ParseResult:
    """Parse a client's settings JSON over `base` (defaults when None). Unknown keys are ignored.

    Accepts the tree itself or the tree under a top-level "kimi" key (VS Code's section name).
    """
    if isinstance(raw, Mapping) and isinstance(raw.get("kimi"), Mapping):
        raw = raw["kimi"]
    invalid: list[str] = []
    settings = _parse_dataclass(Settings, raw if raw is not None else {}, base or Settings(), "", invalid)
    return ParseResult(settings, tuple(invalid))


def _parse_dataclass(cls: type[Any], raw: object, base: Any, path: str, invalid: list[str]) -> Any:
    if not isinstance(raw, Mapping):
        invalid.append(path.rstrip(".") or "<settings>")
        return base
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = camel(f.name)
        current = getattr(base, f.name)
        if key not in raw:
            values[f.name] = current
            continue
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            values[f.name] = _parse_dataclass(typing.cast(type, hint), raw[key], current, f"{path}{key}.", invalid)
            continue
        ok, value = _coerce(hint, raw[key])
        check = f.metadata.get("check")
        if ok and value is not None and check is not None and not check(value):
            ok = False
        if ok:
            values[f.name] = value
        else:
            invalid.append(f"{path}{key}")
            values[f.name] = f.default
    return cls(**values)


def _coerce(hint: Any, value: object) -> tuple[bool, Any]:
    """Check `value` against a field type; ints are accepted where floats are expected."""
    if isinstance(hint, types.UnionType):
        if value is None:
            return (type(None) in hint.__args__), None
        inner = [a for a in hint.__args__ if a is not type(None)]
        return _coerce(inner[0], value)
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return (isinstance(value, int) and not isinstance(value, bool)), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else None  # type: ignore[arg-type]
    if hint is str:
        return isinstance(value, str), value
    if typing.get_origin(hint) is tuple:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return ok, tuple(value) if ok else None  # type: ignore[arg-type]
    raise TypeError(f"unsupported settings type {hint!r}")
