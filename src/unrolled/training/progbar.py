"""A Keras-style live progress bar: ``12/34 ━━━━━━━━━━━━━━━━━━━━ 3s 8ms/step - loss: 0.69``."""

from __future__ import annotations

import sys
import time


def _fmt_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


def _fmt_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """Progress over ``target`` steps, redrawn in place on a terminal.

    Args:
        target: total number of steps, or None when unknown (a generator without
            ``steps_per_epoch``): the bar then shows ``step/Unknown``, as Keras's.
        width: bar width in characters.
        verbose: 1 for a live bar, 2 for one line at the end.
        stream: where to write (default ``sys.stdout``).
        interval: minimum seconds between redraws.

    """

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1, stream=None,
                 interval: float = 0.05):
        self.target, self.width, self.verbose = target, width, verbose
        self.stream = stream or sys.stdout
        self.interval = interval
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self.seen = 0  # the last step drawn or asked for
        self._dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()

    def due(self) -> bool:
        """Whether a redraw is due (so callers can avoid fetching values otherwise)."""
        return (self.verbose == 1 and self._dynamic
                and time.perf_counter() - self._last_draw >= self.interval)

    def update(self, step: int | None, values: dict[str, float], finalize: bool = False) -> None:
        """Draw ``step`` of ``target`` with the given values (a final line when ``finalize``)."""
        step = self.seen if step is None else step
        self.seen = step
        now = time.perf_counter()
        if self.verbose == 0 or (self.verbose == 2 and not finalize):
            return
        if not finalize and not self._dynamic:
            return
        self._last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(step, 1)
        if self.target is None:
            shown = _fmt_time(elapsed)
            parts = [f"{step}/Unknown {shown} {_fmt_step(per_step)}"]
        else:
            filled = int(self.width * step / max(self.target, 1))
            bar = "━" * filled + "─" * (self.width - filled)
            digits = len(str(self.target))
            shown = _fmt_time(elapsed) if finalize else _fmt_time(per_step * (self.target - step))
            parts = [f"{step:>{digits}}/{self.target} {bar} {shown} {_fmt_step(per_step)}"]
        parts += [f"{k}: {v:.4f}" for k, v in sorted(values.items())]
        line = " - ".join(parts)
        if self._dynamic:
            self.stream.write("\r" + line + ("\n" if finalize else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
