"""``bpx train``'s long-run options: checkpoints, resuming, a CSV log, and stopping on Ctrl-C/SIGTERM.

``--checkpoint PATH`` passes ``checkpoint=PATH`` (and ``--checkpoint-every N``) to ``fit``, which
writes the whole state of the run there atomically; ``--resume`` continues from it (``fit(resume=True)``:
with no file at PATH the run starts fresh). ``--log FILE`` is a :class:`bpx.CSVLogger`.

Ctrl-C (SIGINT) or SIGTERM stop the run at the end of the current step (on JAX, the current compiled
epoch; :func:`bpx.training.stop_on_signals`). ``fit`` then writes the checkpoint, the command saves the
model so far to ``--out``, prints the command that resumes, and exits 128 + the signal's number (130,
143). Without ``--checkpoint`` the checkpoint goes to ``<out>.ckpt`` (:func:`default_checkpoint`), written
at the stop (and once at the end, then removed), so an interrupted run is never lost.

The command's settings that shape the model file but are not the network's (the scaling, the label
column, the task, the data) ride in the checkpoint as the state of a callback (:class:`RunSettings`):
a resume with other settings is refused before any work (:func:`check_resume`), so the resumed run
ends with the same model file as an uninterrupted one.
"""

from __future__ import annotations

import os
import shlex
import signal

from bpx.callbacks import Callback
from bpx.cli.args import output_path, positive_int, refuse_overwrite

EXIT_CODES = {"SIGINT": 128 + signal.SIGINT, "SIGTERM": 128 + signal.SIGTERM,
              "scheduler-lost": 1}  # the Dask scheduler went away mid-run (bpx.training.engines._cluster)
REASONS = {"scheduler-lost": "error: lost the Dask scheduler"}


def add_long_run_options(parser):
    g = parser.add_argument_group("long runs")
    g.add_argument("--checkpoint", type=output_path, metavar="PATH",
                   help="write the run's whole state here (atomically) every --checkpoint-every epochs and on "
                        "Ctrl-C/SIGTERM; with --resume continue from it (default on an interrupt: <out>.ckpt)")
    g.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help="epochs between checkpoints (default 1; needs --checkpoint)")
    g.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint to --epochs in total, bit for bit the uninterrupted run (no "
                        "file at the path yet: start fresh, so the same command works the first time and after "
                        "a kill)")
    g.add_argument("--log", type=output_path, metavar="CSV",
                   help="write each epoch's metrics to this CSV file as they come (a fresh run starts it anew; "
                        "--resume keeps the rows of the epochs the checkpoint holds)")


def check_flags(args):
    """Usage errors (exit 2, one line) for long-run flags that do not go together."""
    if args.resume and not args.checkpoint:
        args.parser.error("argument --resume: needs --checkpoint PATH (the checkpoint to continue from)")
    if args.checkpoint_every is not None and not args.checkpoint:
        args.parser.error("argument --checkpoint-every: needs --checkpoint PATH")
    refuse_overwrite(args.parser,
                     {"--out": args.out, "--checkpoint": args.checkpoint or default_checkpoint(args.out),
                      "--log": args.log, "--plot": args.plot},
                     {"--data": args.data, "--test-data": args.test_data, "--labels": args.labels,
                      "--init-from": args.init_from})


def default_checkpoint(out):
    """Where an interrupted run without ``--checkpoint`` keeps its checkpoint: ``<out>.ckpt``."""
    return f"{out}.ckpt"


def fit_options(args, settings):
    """The keyword arguments for ``net.fit``: callbacks (the settings record, the CSV log), checkpoint,
    checkpoint_every, resume."""
    import bpx

    callbacks = [RunSettings(settings)]
    if args.log:  # resuming: keep the rows the checkpoint holds (the logger cuts off any written after it)
        callbacks.append(bpx.CSVLogger(args.log, append=bool(args.resume and os.path.exists(args.checkpoint))))
    if args.checkpoint:
        return dict(callbacks=callbacks, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every or 1,
                    resume=args.resume)
    # no --checkpoint: one at <out>.ckpt, written on an interrupt (and at the last epoch, removed after)
    return dict(callbacks=callbacks, checkpoint=default_checkpoint(args.out), checkpoint_every=args.epochs,
                resume=False)


def settings(args, net):
    """What the command decided before training that shapes the model file besides the network and the
    optimizer (which the checkpoint checks itself): compared on a resume by :class:`RunSettings`."""
    import json

    training = net.metadata["training"]
    chosen = {"preprocessing": net.metadata["preprocessing"], "classes": net.classes,
              "data": training["data"], "test_data": training["test_data"], "test_split": args.test_split,
              "val_split": args.val_split, "early_stopping": args.early_stopping, "init_from": args.init_from,
              "seed": args.seed}
    return json.loads(json.dumps(chosen, default=str))


def check_resume(args, settings):
    """Before any work: refuse (ValueError) to resume a checkpoint that a ``bpx train`` with other data or
    preprocessing wrote (``fit`` itself refuses another network, optimizer, batch size or dtype). Returns
    the number of complete epochs the checkpoint holds (None when there is nothing to resume)."""
    path = args.checkpoint
    if not (args.resume and path and os.path.exists(path)):
        return None
    import bpx.training._checkpoint as checkpoint

    _, state = checkpoint.read(path)
    saved = next((entry["state"]["settings"] for entry in state.get("callbacks", [])
                  if entry.get("type") == RunSettings.__name__ and "settings" in entry.get("state", {})), None)
    if saved is None:
        raise ValueError(f"{path}: this checkpoint was not written by bpx train (it has no record of the "
                         f"command's data and preprocessing); resume it with fit(resume=True), or use another "
                         f"--checkpoint")
    differ = checkpoint.first_difference(saved, settings)
    if differ is not None:
        key, was, now = differ
        raise ValueError(f"{path}: the checkpoint was written by a bpx train with other settings: {key} differs "
                         f"(checkpoint {_short(was)}, now {_short(now)}); resume with the command that wrote it, "
                         f"or use another --checkpoint")
    if state["epoch"] > args.epochs:
        raise ValueError(f"--epochs {args.epochs}: the checkpoint {path} already holds {state['epoch']} complete "
                         f"epochs; --resume goes on to --epochs in total, so give --epochs {state['epoch']} or more")
    return state["epoch"]


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def interrupted(args, net, history, started):
    """A run stopped by a signal: save the model so far to ``--out``, say where the checkpoint is and the
    command that resumes, and return the exit status (130 for SIGINT, 143 for SIGTERM)."""
    import json
    import sys
    import time

    import bpx

    checkpoint = args.checkpoint or default_checkpoint(args.out)
    net.metadata["training"]["epochs_run"] = len(history)
    net.metadata["training"]["interrupted"] = history.interrupted
    bpx.save(net, args.out)
    command = resume_command(args, checkpoint)
    seconds = time.perf_counter() - started
    reason = REASONS.get(history.interrupted, history.interrupted)
    print(f"bpx train: {reason}: stopped after {len(history)} complete epoch(s) in {seconds:.1f} s; "
          f"saved the model so far to {args.out} and the checkpoint {checkpoint}; resume with:\n  {command}",
          file=sys.stderr)
    if args.json:
        print(json.dumps({"model": os.path.abspath(args.out), "interrupted": history.interrupted,
                          "epochs_run": len(history), "checkpoint": os.path.abspath(checkpoint),
                          "resume": command, "history": history.as_dict()}, indent=2))
    return exit_code(history.interrupted)


class RunKept(RuntimeError):
    """A step after training failed; the trained model and the checkpoint were kept (the message says where)."""


def kept(args, net, history, exc):
    """The error for a failure after training, once the model is saved to ``--out`` (when it can be) and
    the checkpoint kept: a :class:`RunKept` that names the failure and both files."""
    import bpx

    checkpoint = args.checkpoint or default_checkpoint(args.out)
    try:
        bpx.save(net, args.out)
        model = f"the trained model is saved to {args.out}"
    except Exception as save_exc:  # noqa: BLE001 (the first failure is the one to report)
        model = f"the model could not be saved to {args.out} ({save_exc})"
    where = f"; the checkpoint is kept at {checkpoint}" if os.path.exists(checkpoint) else ""
    failure = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else f"failed: {exc}"
    return RunKept(f"training finished after {len(history)} epoch(s), then {failure}; {model}{where}")


def finished(args):
    """After a run that was not interrupted: remove the default checkpoint (the user did not ask for one)."""
    if not args.checkpoint:
        try:
            os.remove(default_checkpoint(args.out))
        except FileNotFoundError:
            pass


def resume_command(args, checkpoint):
    """The command line that continues this run from ``checkpoint``."""
    argv = list(getattr(args, "argv", None) or ["train"])
    if not args.checkpoint:
        argv += ["--checkpoint", checkpoint]
    if not args.resume:
        argv.append("--resume")
    return shlex.join(["bpx", *argv])


def exit_code(interrupted):
    """128 + the signal's number, as a shell reports a process that a signal ended (130, 143)."""
    return EXIT_CODES.get(interrupted, 130)


class RunSettings(Callback):
    """A callback that only carries the command's settings in the checkpoint (:func:`check_resume`
    compares them before a resume)."""

    def __init__(self, settings):
        self.settings = settings

    def state_dict(self):
        return {"settings": self.settings}

    def __repr__(self):
        return "RunSettings()"
