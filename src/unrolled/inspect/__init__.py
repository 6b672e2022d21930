"""Look inside recurrent models: explain, trace, step by step, gradients through time, plots.

Everything here reads a model and never changes it.
"""

from unrolled.inspect.explain import explain
from unrolled.inspect.gradients import GradientFlow, gradient_flow
from unrolled.inspect.lstmvis import export_lstmvis
from unrolled.inspect.plots import (
    plot_architecture,
    plot_cell,
    plot_gates,
    plot_gradient_flow,
    plot_units,
)
from unrolled.inspect.step import GateStep, Step, step_by_step
from unrolled.inspect.trace import BidirectionalTrace, Trace, trace
from unrolled.inspect.weights import GateWeights, gate_weights, weight_table

__all__ = [
    "BidirectionalTrace", "GateWeights", "GradientFlow", "Trace", "explain", "gate_weights",
    "gradient_flow", "trace", "weight_table", "GateStep", "Step", "step_by_step",
    "export_lstmvis", "plot_architecture", "plot_cell", "plot_gates", "plot_gradient_flow",
    "plot_units",
]
