"""CSVLogger: each epoch's History entry appended to a CSV file as it comes, kept in step with a resume."""

from __future__ import annotations

import csv
import os

from ..utils._paths import check_output_file
from ._callback import Callback


class CSVLogger(Callback):
    """Append each epoch's History entry to a CSV file as it comes (``epoch,loss,accuracy,...``).

    The file is rewritten at the first epoch of a fresh ``fit`` (``append=False``); a resumed fit keeps
    the rows of the epochs the checkpoint holds and drops any written after it, so the file always
    matches the History.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (its folder must exist).
    append : bool, default False
        Keep the rows of earlier ``fit`` calls.

    Raises
    ------
    TypeError, ValueError
        For a path that is not a file name in an existing folder.
    """

    COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")

    def __init__(self, path, append=False):
        self.path = check_output_file(path, "CSVLogger: path")
        self.append = bool(append)
        self.rows = 0

    def on_train_begin(self, logs=None):
        if (logs or {}).get("resumed_from") is not None:  # resumed: load_state_dict trims the file to the checkpoint
            return
        if not self.append or not os.path.exists(self.path):
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self.COLUMNS)
            self.rows = 0
        else:  # appending: the rows already there count (a resume keeps them)
            with open(self.path, newline="") as f:
                self.rows = max(0, len(list(csv.reader(f))) - 1)

    def on_epoch_end(self, epoch, logs):
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([epoch] + ["" if logs.get(k) is None else repr(logs[k]) for k in self.COLUMNS[1:]])
            f.flush()
        self.rows += 1

    def state_dict(self):
        return {"rows": self.rows}

    def load_state_dict(self, state):
        """Keep the header and the first ``rows`` rows (the epochs the checkpoint holds)."""
        self.rows = state["rows"]
        if os.path.exists(self.path):
            with open(self.path, newline="") as f:
                kept = list(csv.reader(f))[: self.rows + 1]
        else:
            kept = [list(self.COLUMNS)]
        with open(self.path, "w", newline="") as f:
            csv.writer(f).writerows(kept)

    def __repr__(self):
        return f"CSVLogger({self.path!r})"
