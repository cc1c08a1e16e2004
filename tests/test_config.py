import pytest
from pydantic import ValidationError

from pulse.config import load_settings


def test_precedence_defaults_toml_env_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "pulse.toml"
    cfg.write_text('[pulse]\nthreads = 1\nmodel = "smollm2-135m"\ntop_k = 7\n')
    monkeypatch.setenv("PULSE_CONFIG", str(cfg))
    monkeypatch.setenv("PULSE_MODEL", "qwen2.5-coder-0.5b")
    s = load_settings(top_k=3)
    assert s.threads == 1  # from TOML
    assert s.model == "qwen2.5-coder-0.5b"  # env beats TOML
    assert s.top_k == 3  # explicit beats env
    assert s.backend == "llamacpp"  # default


def test_bad_values_are_rejected_with_the_field_name(monkeypatch):
    monkeypatch.setenv("PULSE_THREADS", "zero")
    with pytest.raises(ValidationError, match="threads"):
        load_settings()
    monkeypatch.setenv("PULSE_THREADS", "2")
    monkeypatch.setenv("PULSE_BACKEND", "magic")
    with pytest.raises(ValidationError, match="backend"):
        load_settings()


def test_paths_derive_from_workspace(tmp_path):
    s = load_settings(workspace=tmp_path)
    assert s.db_path == tmp_path / "pulse.duckdb"
    assert s.sessions_path == tmp_path / "sessions.sqlite"
