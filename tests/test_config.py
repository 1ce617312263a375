import dataclasses

import pytest

from slmlib.config import PROFILES, ConfigError, config_hash, load_config, valid_keys


def test_every_profile_loads_and_names_itself():
    for name in PROFILES:
        assert load_config(name).profile == name


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        load_config("nope")
    for name in ("smoke", "default", "full", "gpu"):
        assert name in str(err.value)


def test_unknown_override_lists_the_valid_keys():
    with pytest.raises(ConfigError) as err:
        load_config("smoke", {"world.n_speakers": 3})
    assert "world.n_real_speakers" in str(err.value)


def test_overrides_are_parsed_and_typed():
    cfg = load_config("smoke", {"seed": "3", "world.fault_scale": 2, "world.languages": "th,en"})
    assert cfg.seed == 3
    assert cfg.world.fault_scale == 2.0 and isinstance(cfg.world.fault_scale, float)
    assert cfg.world.languages == ("th", "en")
    with pytest.raises(ConfigError, match="seed"):
        load_config("smoke", {"seed": "three"})
    with pytest.raises(ConfigError):
        load_config("smoke", {"profile": "default"})


def test_configs_are_frozen_and_hash_stably():
    cfg = load_config("default")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1
    assert config_hash(cfg.world) == config_hash(load_config("default").world)
    assert config_hash(cfg.world) != config_hash(load_config("smoke").world)
    assert "world.fault_scale" in valid_keys(cfg)


def test_fields_added_later_keep_old_cache_keys():
    import dataclasses

    from slmlib.config import config_hash
    from slmlib.later import later

    @dataclasses.dataclass(frozen=True)
    class Old:
        a: int = 1

    @dataclasses.dataclass(frozen=True)
    class New:
        a: int = 1
        b: int = later(0)

    assert config_hash(New()) == config_hash(Old())          # at its default: the same key
    assert config_hash(New(b=2)) != config_hash(Old())       # set: a new key
