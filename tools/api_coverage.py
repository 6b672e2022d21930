"""Print the README's table of Keras 3 names unrolled offers, measured from both packages.

For each Keras module a recurrent model touches, the public names of ``unrolled.<module>`` that
``keras.<module>`` also has, against the count Keras exports. Run (and paste between the README's
``coverage`` markers; ``tests/test_readme_coverage.py`` checks it is current):

    KERAS_BACKEND=jax PYTHONPATH=src python tools/api_coverage.py
"""

from __future__ import annotations

import os
import sys

MODULES = ("layers", "models", "callbacks", "optimizers", "losses", "metrics", "activations",
           "initializers", "utils", "saving", "preprocessing", "ops")


def public(module) -> set[str]:
    """Return the public names of ``module`` (its ``__all__`` when it has one)."""
    names = getattr(module, "__all__", None) or dir(module)
    return {n for n in names if not n.startswith("_")}


def table() -> str:
    """Return the markdown table."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    import unrolled

    rows = ["| module | Keras 3 names in unrolled | of Keras's | names |", "|---|---|---|---|"]
    for name in MODULES:
        theirs = public(getattr(keras, name))
        shared = sorted(public(getattr(unrolled, name)) & theirs)
        shown = ", ".join(f"`{n}`" for n in shared) if name != "ops" else \
            "see the ops coverage below"
        rows.append(f"| `{name}` | {len(shared)} | {len(theirs)} | {shown} |")
    top = sorted({"Input", "Layer", "Model", "Sequential"} & public(unrolled))
    rows.append(f"| top level | {len(top)} | - | {', '.join(f'`{n}`' for n in top)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
    sys.exit(0)
