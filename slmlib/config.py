"""Run profiles: one frozen dataclass family, selected by name and overridden by dotted keys.

Every notebook's papermill ``parameters`` cell holds ``profile`` and ``overrides``; it calls
:func:`load_config` and passes the sections it needs (``cfg.world``, ...) to the library, so a
stage's cache key depends only on the section it reads.

Profiles:

* ``smoke``   -- CI: every notebook end to end on a tiny world, minutes.
* ``default`` -- the README's main job on a 2-core CPU; shows every phenomenon with CIs.
* ``full``    -- CPU, paper-shaped grids and seeds, hours.
* ``gpu``     -- an accelerator: a bigger world and model, or a real backbone by local path.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from slmlib.align.config import AlignConfig, TDSCConfig
from slmlib.later import MARK
from slmlib.codec.config import CodecConfig
from slmlib.judges.config import JudgesConfig
from slmlib.model.config import SLMConfig
from slmlib.saslm.config import SASLMConfig
from slmlib.scaling.config import ScalingConfig
from slmlib.world.config import WorldConfig


@dataclass(frozen=True)
class Config:
    """Everything a run needs; sections are frozen dataclasses of their own."""

    profile: str = "default"
    seed: int = 0
    num_workers: int = 2          # processes for rendering, encoding and judging
    device: str = "cpu"           # "cpu" or "cuda"; the gpu profile sets "cuda"
    world: WorldConfig = field(default_factory=WorldConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    judges: JudgesConfig = field(default_factory=JudgesConfig)
    slm: SLMConfig = field(default_factory=SLMConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    tdsc: TDSCConfig = field(default_factory=TDSCConfig)
    saslm: SASLMConfig = field(default_factory=SASLMConfig)

    @property
    def training_workers(self) -> int:
        """Processes for stages that train SLMs (SFT, DPO): one when training is launched as a
        script (the launcher takes the devices and a port of its own), else ``num_workers``."""
        return 1 if self.slm.launch else self.num_workers


def _smoke() -> Config:
    return Config(profile="smoke", world=WorldConfig.smoke(), codec=CodecConfig.smoke(),
                  judges=JudgesConfig.smoke(), slm=SLMConfig.smoke(), scaling=ScalingConfig.smoke(),
                  align=AlignConfig.smoke(), tdsc=TDSCConfig.smoke(),
                  saslm=SASLMConfig.smoke())


def _default() -> Config:
    return Config(profile="default", world=WorldConfig())


def _full() -> Config:
    return Config(profile="full", world=WorldConfig.full(), scaling=ScalingConfig.full())


def _gpu() -> Config:
    # SFT and generation leave the notebook kernel for scripts on the GPU(s) (slmlib.train,
    # slmlib.generate); more GPUs: -p slm.launch="accelerate launch --config_file
    # configs/accelerate/multi_gpu.yaml --num_processes 4"
    launch = "accelerate launch --config_file configs/accelerate/single_gpu.yaml"
    return Config(profile="gpu", device="cuda", num_workers=8, world=WorldConfig.full(),
                  scaling=ScalingConfig.full(), slm=SLMConfig(launch=launch))


PROFILES: dict[str, typing.Callable[[], Config]] = {
    "smoke": _smoke,
    "default": _default,
    "full": _full,
    "gpu": _gpu,
}


class ConfigError(ValueError):
    """An unknown profile, an unknown override key or a value of the wrong type."""


def load_config(profile: str = "default", overrides: Mapping[str, Any] | None = None) -> Config:
    """Return the named profile with ``overrides`` applied.

    ``overrides`` maps dotted keys to values, e.g. ``{"seed": 3, "world.n_real_speakers": 8}``.
    String values are parsed as Python literals when possible, so CLI ``-p key=value`` works.
    """
    if profile not in PROFILES:
        raise ConfigError(
            f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}"
        )
    cfg = PROFILES[profile]()
    valid = valid_keys(cfg)
    for key, value in (overrides or {}).items():
        if key not in valid:
            raise ConfigError(f"unknown override key {key!r}; valid keys: {', '.join(sorted(valid))}")
        cfg = _override(cfg, key.split("."), value, key)
    return cfg


def _override(obj: Any, path: list[str], value: Any, full_key: str) -> Any:
    head = path[0]
    if len(path) > 1:
        section = _override(getattr(obj, head), path[1:], value, full_key)
        return dataclasses.replace(obj, **{head: section})
    hint = typing.get_type_hints(type(obj))[head]
    return dataclasses.replace(obj, **{head: _coerce(value, hint, full_key)})


def valid_keys(obj: Any, prefix: str = "") -> list[str]:
    """All dotted override keys of a config (sections expanded)."""
    keys = []
    for f in dataclasses.fields(obj):
        if f.name == "profile" and not prefix:
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            keys += valid_keys(value, prefix + f.name + ".")
        else:
            keys.append(prefix + f.name)
    return keys


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a CLI string or JSON value into the field's type, or say why not."""
    if isinstance(value, str) and hint is not str:
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
    origin = typing.get_origin(hint)
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = (value,)
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, key) for v in value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not (
        isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{key!r} needs a value of type {hint.__name__}, got {value!r}")
    return value


def config_hash(section: Any) -> str:
    """Stable short hash of a config section (a dataclass, or anything JSON-able)."""
    return hashlib.sha256(canonical_json(section).encode()).hexdigest()[:16]


def _hashable(obj: Any) -> Any:
    """Dataclasses as dicts (recursively), leaving out fields declared with
    :func:`slmlib.later.later` while they hold their default, so adding an option keeps every
    existing cache key valid."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _hashable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not (f.metadata.get(MARK) and getattr(obj, f.name) == f.default)}
    if isinstance(obj, (list, tuple)):
        return [_hashable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _hashable(v) for k, v in obj.items()}
    return obj


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys; dataclasses become dicts, tuples lists."""
    return json.dumps(_hashable(obj), sort_keys=True, default=str, separators=(",", ":"))
