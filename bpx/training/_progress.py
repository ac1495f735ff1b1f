"""Progress reporting for ``fit``: a tqdm bar on a terminal, plain lines when asked, else nothing.

tqdm is imported when a bar is first drawn, not when bpx is imported: ``import bpx`` (and ``bpx info``)
needs nothing beyond NumPy and array-api-compat, and a machine without tqdm trains with no bar.
"""

from __future__ import annotations

import sys


class Progress:
    """``verbose=0``: silent. ``verbose=1``: a tqdm progress bar per epoch when stderr is a terminal,
    else silent. ``verbose=2``: one line per epoch on stdout."""

    def __init__(self, epochs, verbose, done=0):
        self.epochs = epochs
        self.verbose = verbose
        self.bar = None
        if verbose == 1 and sys.stderr.isatty():  # ``done``: epochs already run (a resumed fit)
            try:
                from tqdm import tqdm
            except ImportError:  # an install without it (a GPU image): no bar
                return
            self.bar = tqdm(total=epochs, initial=done, unit="epoch", dynamic_ncols=True, leave=True)

    def update(self, epoch, metrics):
        text = {k: f"{v:.4g}" for k, v in metrics.items() if v is not None}
        if self.bar is not None:
            self.bar.set_postfix(text, refresh=False)
            self.bar.update(1)
        elif self.verbose >= 2:
            print(f"epoch {epoch}/{self.epochs} " + " ".join(f"{k}={v}" for k, v in text.items()), flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
