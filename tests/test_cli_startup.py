"""Startup: `unrolled --help` imports no JAX; the persistent compilation cache and its switches.

Oracles: `sys.modules` of a fresh interpreter (what was imported), and the files JAX writes in
the cache folder (present when on, absent when switched off).
"""

import os
import subprocess
import sys

import pytest

PROBE = """
import sys
from unrolled.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("JAX_IMPORTED" if any(m == "jax" or m.startswith("jax.") for m in sys.modules) else "NO_JAX")
"""


def _env(**extra):
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["--version"],
                                  ["trace", "--help"]])
def test_help_does_not_import_jax(argv):
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "NO_JAX"


def test_import_unrolled_is_lazy_but_complete():
    code = ("import sys, unrolled; assert 'jax' not in sys.modules; "
            "from unrolled import layers, models; import unrolled.training; "
            "print(unrolled.Sequential.__name__, unrolled._runtime.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["Sequential", "unrolled._runtime"]


def _demo(tmp_path, *flags, **env):
    return subprocess.run(
        [sys.executable, "-m", "unrolled.cli", *flags, "demo", "--epochs", "1", "--verbose",
         "0"], capture_output=True, text=True, timeout=600,
        env=_env(XDG_CACHE_HOME=str(tmp_path / "xdg"), **env))


def test_compile_cache_on_by_default_under_xdg_cache_home(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("UNROLLED_CACHE_DIR",)}
    env["UNROLLED_COMPILE_CACHE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "unrolled.cli", "demo", "--epochs", "1", "--verbose", "0"],
        capture_output=True, text=True, timeout=600,
        env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg"),
             "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "xdg" / "unrolled" / "jax"
    assert folder.is_dir() and any(folder.iterdir())


@pytest.mark.parametrize("how", ["flag", "env"])
def test_compile_cache_switches_off(tmp_path, how):
    flags = ["--no-compile-cache"] if how == "flag" else []
    env = {"UNROLLED_COMPILE_CACHE": "0" if how == "env" else "1"}
    proc = _demo(tmp_path, *flags, **env)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "xdg" / "unrolled").exists()


def test_enable_compile_cache_for_library_users(tmp_path):
    code = ("import sys, jax, jax.numpy as jnp; from unrolled.utils import enable_compile_cache;"
            "folder = enable_compile_cache(sys.argv[1], min_compile_time_secs=0);"
            "jax.jit(lambda a: jnp.tanh(a) * 3)(jnp.ones(7)).block_until_ready();"
            "print(folder)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c")], capture_output=True,
                          text=True, timeout=600, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "c")
    assert any((tmp_path / "c").iterdir())
