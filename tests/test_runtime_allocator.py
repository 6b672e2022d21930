"""The process-level allocator setting (unrolled._runtime), checked in fresh processes.

No numerical oracle: these are switches. The speed it buys is measured in benchmarks/, not here.
"""

import os
import subprocess
import sys

import pytest

PROBE = ("import unrolled; from unrolled import _runtime as runtime; "
         "print(runtime._state['applied'])")


def _run(env_value):
    env = dict(os.environ)
    env.pop("UNROLLED_TUNE_MALLOC", None)
    if env_value is not None:
        env["UNROLLED_TUNE_MALLOC"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_applied_on_import_by_default():
    assert _run(None) == "True"


@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_environment_variable_turns_it_off(value):
    assert _run(value) == "False"


def test_second_call_does_not_reapply(monkeypatch):
    from unrolled import _runtime as runtime

    calls = []
    monkeypatch.setattr(runtime, "_glibc", lambda: calls.append(1))
    monkeypatch.setitem(runtime._state, "done", True)
    runtime.tune_allocator()
    assert calls == []
    assert runtime.tune_allocator(force=True) is False  # forced: asks for libc again (None here)
    assert calls == [1]
