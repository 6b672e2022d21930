"""Inspect tests draw with matplotlib's non-interactive Agg backend."""

import matplotlib

matplotlib.use("Agg")
