"""pyproject.toml as `pip install .` reads it: the requirements files' pins, every data_layer package, and a
`feedback-review` command that is `python -m data_layer`, checked on a wheel built and installed offline."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import tomllib
import venv

import pytest
import setuptools

from data_layer import cli
from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pins(name: str) -> list[str]:
    """The requirement lines of a requirements file, without comments and `-r` includes."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text().splitlines())
    return sorted(line for line in lines if line and not line.startswith("-r"))


def test_declared_dependencies_are_the_requirements_files_pins():
    assert sorted(PROJECT["project"]["dependencies"]) == pins("requirements.txt")
    assert sorted(PROJECT["project"]["optional-dependencies"]["dev"]) == pins("requirements-dev.txt")
    assert all("==" in pin for pin in pins("requirements-dev.txt") + pins("requirements.txt"))


def test_the_console_command_is_the_cli_main():
    scripts = PROJECT["project"]["scripts"]
    assert list(scripts) == [cli.COMMAND]
    module, function = scripts[cli.COMMAND].split(":")
    assert getattr(importlib.import_module(module), function) is cli.main


def test_every_data_layer_package_and_nothing_else_is_packaged():
    found = setuptools.find_packages(str(ROOT), **PROJECT["tool"]["setuptools"]["packages"]["find"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "data_layer").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert sorted(found) == sorted(on_disk)
    assert "data_layer.engines" in found


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.mark.slow
def test_an_installed_wheel_gives_the_feedback_review_command(tmp_path):
    # A copy of what the wheel is built from, so the build leaves nothing in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "data_layer", source / "data_layer", ignore=shutil.ignore_patterns("__pycache__"))
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "-w", str(tmp_path / "dist"), str(source),
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")

    # A fresh environment that sees the dependencies installed here, and the wheel installed in it.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    installed = run(
        sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    located = run(str(python), "-c", "import data_layer; print(data_layer.__file__)", cwd=tmp_path)
    assert located.stdout.startswith(str(env_dir)), located.stdout + located.stderr

    command = env_dir / "bin" / cli.COMMAND
    helped = run(str(command), "--help", cwd=tmp_path)
    module = run(sys.executable, "-m", "data_layer", "--help", cwd=ROOT)
    assert helped.returncode == module.returncode == 0, helped.stderr
    assert helped.stdout.startswith(f"usage: {cli.COMMAND} [-h] COMMAND")
    assert helped.stdout.replace(cli.COMMAND, "python -m data_layer") == module.stdout

    db = tmp_path / "x.duckdb"
    initialised = run(str(command), "init", "--db", str(db), cwd=tmp_path)
    assert initialised.returncode == 0, initialised.stderr
    assert initialised.stdout.startswith("schema version ") and db.is_file()
    stats = run(str(command), "stats", "--json", "--db", str(db), cwd=tmp_path)
    assert stats.returncode == 0 and '"threads": 0' in stats.stdout, stats.stdout + stats.stderr

    wrong = run(str(command), "nope", cwd=tmp_path)
    assert wrong.returncode == 2
    assert f"{cli.COMMAND}: error: argument COMMAND: invalid choice: 'nope'" in wrong.stderr
