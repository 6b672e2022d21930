"""The README's coverage tables are the output of the tools that measure them (no oracle: the
README must say what the code does)."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _between(text, marker):
    return text.split(f"<!-- {marker} -->\n", 1)[1].split(f"\n<!-- /{marker} -->", 1)[0]


def test_readme_api_table_is_current(keras):
    readme = (ROOT / "README.md").read_text()
    assert _between(readme, "coverage") == _tool("api_coverage").table()


def test_readme_ops_coverage_is_current(keras, capsys):
    _tool("keras_ops_coverage").main()
    printed = capsys.readouterr().out.rstrip("\n")
    readme = (ROOT / "README.md").read_text()
    assert _between(readme, "ops-coverage") == f"```\n{printed}\n```"
