"""What an install of kimi-lsp puts on sys.path: `kimi_lsp` and `kimi_engine` (the folder engine/), no `engine`.

Setuptools cannot discover a package whose name is not its folder's, so pyproject.toml lists the packages; the
first test keeps that list in step with the tree (a new package folder must be added there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INSTALLED_AS = {"kimi_lsp": "kimi_lsp", "engine": "kimi_engine"}  # folder -> package name


def _setuptools_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return config


def test_every_package_folder_is_listed_under_its_installed_name() -> None:
    config = _setuptools_config()
    assert config["package-dir"] == {"kimi_engine": "engine"}
    folders = set()
    for folder, name in INSTALLED_AS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" not in parts:
                folders.add(".".join((name, *parts)))
    assert sorted(config["packages"]) == sorted(folders)


def test_the_installed_environment_has_kimi_engine_and_no_engine(tmp_path: Path) -> None:
    # A fresh interpreter outside the repository: only what the install put on sys.path counts.
    probe = (
        "import importlib.util, json, kimi_engine.launch as launch; print(json.dumps({"
        "'engine': importlib.util.find_spec('engine') is not None, 'file': launch.__file__, "
        "'model': (launch.TINY_MODEL_DIR / 'config.json').is_file(), "
        "'cpu': (launch.CPU_KERNEL_DIR / 'sgl_kernel' / '__init__.py').is_file()}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode == 0, f"kimi_engine is not installed in {sys.executable} (make venv):\n{out.stderr}"
    found = json.loads(out.stdout)
    assert found["engine"] is False
    # The editable install (`make venv`) maps kimi_engine onto the folder itself, so the files beside the
    # code (the tiny model, the CPU stand-ins) are found through __file__ as before.
    assert Path(found["file"]).resolve() == ROOT / "engine" / "launch.py"
    assert found["model"] and found["cpu"]
