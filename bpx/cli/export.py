"""``bpx export``: a saved model as an ONNX file that takes raw features, as ``bpx predict`` does.

The graph is recorded from bpx's own forward pass on ndonnx arrays (:mod:`bpx.export`), with the
model's stored scaling in front; classifiers output ``probabilities`` and ``label``, regressors
``values``. Needs ``pip install 'bpx-backprop[onnx]'``.
"""

from __future__ import annotations

import os
import sys

from bpx.cli.args import existing_file, output_path, refuse_overwrite


def add_parser(subparsers):
    p = subparsers.add_parser("export", help="export a saved model to ONNX",
                              description="Write a saved model as an ONNX model (raw features in, as bpx predict "
                                          "takes them; probabilities and label, or values, out).")
    p.add_argument("--model", type=existing_file, required=True, help="model file written by bpx train / bpx.save")
    p.add_argument("--out", type=output_path, required=True, metavar="FILE", help="the .onnx file to write")
    p.set_defaults(run=run, parser=p)


def run(args):
    if os.path.splitext(args.out)[1].lower() != ".onnx":
        args.parser.error(f"argument --out: expected a .onnx file name, got {args.out!r}")
    refuse_overwrite(args.parser, {"--out": args.out}, {"--model": args.model})
    from bpx.io._onnx import OPSET, node_count, require_onnx

    _, onnx = require_onnx()

    import bpx

    net = bpx.load(args.model, backend="numpy")  # the weights only travel into the graph's constants
    bpx.export_onnx(net, args.out)
    model = onnx.load(args.out)
    outputs = ", ".join(o.name for o in model.graph.output)
    print(f"wrote {args.out}: ONNX opset {OPSET}, {node_count(model)} nodes; input X (N, {net.n_features}) {net.dtype}; "
          f"outputs {outputs}", file=sys.stderr)
    return 0
