"""Run unrolled and its peers on the same data and model; write a markdown table and JSON.

Usage::

    python -m benchmarks.run --config seed|medium|large|all --peers unrolled,keras-jax,torch

Each system runs in its own subprocess (so imports, threads and peak memory don't mix); a system
whose framework is not installed is reported as "not installed". Ratios are unrolled / peer from
the same run. See BENCHMARKS.md for the protocol and the latest numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import CONFIGS

ROOT = Path(__file__).resolve().parents[1]
# system -> (peer module, extra environment, module that must be importable)
SYSTEMS = {
    "unrolled": ("benchmarks.peers.unrolled_peer", {}, "jax"),
    "keras-jax": ("benchmarks.peers.keras_peer", {"KERAS_BACKEND": "jax"}, "jax"),
    "keras-tensorflow": ("benchmarks.peers.keras_peer", {"KERAS_BACKEND": "tensorflow"},
                         "tensorflow"),
    "keras-torch": ("benchmarks.peers.keras_peer", {"KERAS_BACKEND": "torch"}, "torch"),
    "torch": ("benchmarks.peers.torch_peer", {}, "torch"),
}
DEFAULT_PEERS = "keras-jax,keras-tensorflow,keras-torch,torch"
JAX_SYSTEMS = ("unrolled", "keras-jax")
# Systems 10-100x slower than unrolled time a prefix of the same data (same rates, less waiting).
SLOW_SAMPLES = {"keras-torch": {"seed": 256, "medium": 128, "large": 64},
                "torch": {"seed": 512, "medium": 256, "large": 128}}


def machine() -> dict:
    """CPU model, cores, load and the versions of every framework involved."""
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": platform.processor() or "unknown", "cores": os.cpu_count(),
            "load_average_at_start": os.getloadavg()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    for mod in ("jax", "jaxlib", "keras", "torch", "tensorflow", "numpy"):
        try:
            from importlib.metadata import version

            info[mod] = version(mod)
        except Exception:  # noqa: BLE001 - not installed
            info[mod] = "not installed"
    return info


def _installed(python: str, module: str) -> bool:
    if python == sys.executable:
        return importlib.util.find_spec(module) is not None
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def run_system(system: str, config: str, epochs: int, xla_flags: str | None,
               timeout: float, python: str | None = None) -> dict:
    """Run one system at one config in a fresh subprocess and return its result dict.

    ``python`` is the interpreter to run it with (default: this one), e.g. a separate virtual
    environment for TensorFlow, whose pinned dependencies would clash with JAX's.
    """
    module, extra_env, needs = SYSTEMS[system]
    python = python or sys.executable
    if not _installed(python, needs):
        return {"system": system, "config": config, "error": "not installed"}
    env = dict(os.environ, **extra_env)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), src, env.get("PYTHONPATH")) if p)
    if xla_flags is not None and system in JAX_SYSTEMS:
        env["XLA_FLAGS"] = xla_flags
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [python, "-m", module, "--config", config, "--epochs", str(epochs),
               "--out", str(out)]
        if config in SLOW_SAMPLES.get(system, {}):
            cmd += ["--samples", str(SLOW_SAMPLES[system][config])]
        try:
            proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"system": system, "config": config, "error": f"timed out after {timeout}s"}
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {"system": system, "config": config,
                    "error": f"exit {proc.returncode}: " + " | ".join(tail)}
        return json.loads(out.read_text())


def _fmt(v, spec=",.0f", suffix="") -> str:
    return "-" if v is None else format(v, spec) + suffix


def table(results: list[dict]) -> str:
    """Markdown table: one row per (config, system), ratios against unrolled."""
    head = ("| config | system | train samples/s | infer samples/s | unrolled/peer train | "
            "unrolled/peer infer | first batch s | warm-up epoch s | peak RSS fit MiB | N |")
    lines = [head, "|" + "---|" * 10]
    by_cfg: dict[str, dict[str, dict]] = {}
    for r in results:
        by_cfg.setdefault(r["config"], {})[r["system"]] = r
    for cfg, rows in by_cfg.items():
        ours = rows.get("unrolled", {})
        for system, r in rows.items():
            if "error" in r:
                lines.append(f"| {cfg} | {system} | {r['error']} |" + " |" * 8)
                continue
            ratio_t = ratio_i = None
            if system != "unrolled" and "train_samples_per_s" in ours:
                ratio_t = ours["train_samples_per_s"] / r["train_samples_per_s"]
                ratio_i = ours["infer_samples_per_s"] / r["infer_samples_per_s"]
            lines.append(
                f"| {cfg} | {system} | {_fmt(r['train_samples_per_s'])} | "
                f"{_fmt(r['infer_samples_per_s'])} | {_fmt(ratio_t, '.2f', 'x')} | "
                f"{_fmt(ratio_i, '.2f', 'x')} | {r['first_batch_s']:.2f} | "
                f"{r['warmup_epoch_s']:.2f} | {r['peak_rss_fit_mb']:,.0f} | {r['samples']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="seed", choices=[*CONFIGS, "all"])
    p.add_argument("--peers", default=DEFAULT_PEERS,
                   help=f"comma-separated, from {', '.join(s for s in SYSTEMS if s != 'unrolled')}"
                        " (unrolled always runs)")
    p.add_argument("--epochs", type=int, default=5, help="timed epochs (median; at least 3)")
    p.add_argument("--xla-flags", default=None,
                   help="XLA_FLAGS for both JAX systems (unrolled and keras-jax), e.g. "
                        "'--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'")
    p.add_argument("--python", action="append", default=[], metavar="SYSTEM=PATH",
                   help="run SYSTEM with another interpreter, e.g. "
                        "keras-tensorflow=/path/to/tf-venv/bin/python (repeatable)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per system and config")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"),
                   help="folder for latest.md and latest.json")
    a = p.parse_args(argv)
    peers = [s.strip() for s in a.peers.split(",") if s.strip()]
    unknown = [s for s in peers if s not in SYSTEMS]
    if unknown:
        p.error(f"unknown peer(s) {unknown}; choose from {sorted(SYSTEMS)}")
    systems = ["unrolled", *[s for s in peers if s != "unrolled"]]
    pythons = dict(item.split("=", 1) for item in a.python)
    bad = [s for s in pythons if s not in SYSTEMS]
    if bad:
        p.error(f"--python for unknown system(s) {bad}")
    configs = list(CONFIGS) if a.config == "all" else [a.config]
    info = machine()
    for system, python in pythons.items():  # versions from the other interpreters
        mod = SYSTEMS[system][2]
        got = subprocess.run([python, "-c", f"import {mod}; print({mod}.__version__)"],
                             capture_output=True, text=True)
        if got.returncode == 0:
            info[mod] = got.stdout.strip() + f" (--python {system}=...)"  # no local paths
    results = []
    started = time.time()
    for cfg in configs:
        for system in systems:
            t = time.perf_counter()
            r = run_system(system, cfg, a.epochs, a.xla_flags, a.timeout, pythons.get(system))
            print(f"{cfg:>6} {system:<16} {time.perf_counter() - t:6.1f}s "
                  + (r.get("error") or f"train {r['train_samples_per_s']:,.0f}/s "
                     f"infer {r['infer_samples_per_s']:,.0f}/s"), flush=True)
            results.append(r)
    info["load_average_at_end"] = os.getloadavg()
    info["wall_s"] = round(time.time() - started, 1)
    info["xla_flags"] = a.xla_flags
    info["pythons"] = pythons
    info["command"] = "python -m benchmarks.run " + " ".join(argv or sys.argv[1:])
    md = f"Machine: {info['cpu']}, {info['cores']} cores; jax {info['jax']}, keras " \
         f"{info['keras']}, torch {info['torch']}, tensorflow {info['tensorflow']}; load " \
         f"average {info['load_average_at_start'][0]:.1f} at start\n\n" + table(results)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(md + "\n")
    (out / "latest.json").write_text(json.dumps({"machine": info, "results": results}, indent=1))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
