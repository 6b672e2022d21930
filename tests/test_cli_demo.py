"""`unrolled demo`: runs end to end on the bundled data and reports what the issue asks."""

import re
import subprocess
import sys

from unrolled.cli import main


def test_demo_trains_and_explains(capsys):
    # Oracle: the dataset's own labels (accuracy is recomputed from predictions in the demo) and
    # the weight shapes Keras defines for LSTM(16) on one feature.
    assert main(["demo", "--epochs", "60", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 1,186" in out
    acc = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    assert acc > 0.9
    n_right, n_total = map(int, re.search(r"\((\d+)/(\d+) days\)", out).groups())
    assert n_total == 1029 and abs(n_right / n_total - acc) < 1e-3
    for shape in ("(1, 64)", "(16, 64)", "(64,)"):
        assert shape in out
    assert "layer of 16 memory cells" in out


def test_console_entry_point_help():
    proc = subprocess.run([sys.executable, "-m", "unrolled.cli", "demo", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "ItalyPowerDemand" in proc.stdout


def test_unknown_command_exits_nonzero(capsys):
    try:
        code = main(["no-such-command"])
    except SystemExit as exc:  # argparse exits with 2 on an invalid choice
        code = exc.code
    assert code == 2
    assert "invalid choice" in capsys.readouterr().err
