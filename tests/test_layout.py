"""Where data lives: $TWOSTAGE_DATA_DIR, else the user's cache directory."""

from __future__ import annotations

from pathlib import Path

from engine.layout import ENV_VAR, Layout, default_data_dir


def test_environment_variable_wins(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"


def test_cache_directory_otherwise(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "twostage" / "default"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "twostage" / "default"


def test_layout_paths(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.dataset == tmp_path / "dataset" and layout.trending == tmp_path / "trending"
    assert layout.index("faiss-ivf") == tmp_path / "indexes" / "faiss-ivf"
