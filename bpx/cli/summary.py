"""``bpx summary``: what a model file holds — layers, activations, parameter counts per layer and in
total, dtype, classes, preprocessing — read from its checked header, without building a network."""

from __future__ import annotations

import json

from bpx.cli.args import existing_file


def add_parser(subparsers):
    p = subparsers.add_parser("summary", help="layers, parameter counts, dtype, classes of a model file",
                              description="Layers, activations, parameter counts, dtype, classes and preprocessing "
                                          "of a model file.")
    p.add_argument("--model", type=existing_file, required=True, help="model file written by bpx train / bpx.save")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run, parser=p)


def run(args):
    from bpx.io._persistence import read

    header, _ = read(args.model)
    sizes = header["layer_sizes"]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        act = header["output"] if i == len(sizes) - 1 else header["activation"]
        biases = n_out if header["bias"] else 0
        layers.append({"layer": i, "n_in": n_in, "n_out": n_out, "activation": act,
                       "weights": n_in * n_out, "biases": biases, "params": n_in * n_out + biases})
    meta = header.get("metadata") or {}
    info = {
        "model": args.model, "format_version": header["format_version"], "bpx_version": header.get("bpx_version"),
        "layer_sizes": sizes, "activation": header["activation"], "output": header["output"], "loss": header["loss"],
        "dtype": header["dtype"], "precision": header.get("precision"), "init": header.get("init"),
        "seed": header.get("seed"), "bias": header["bias"],
        "dropout": header.get("dropout", [0.0] * (len(sizes) - 2)), "layers": layers,
        "total_params": sum(layer["params"] for layer in layers), "classes": header.get("classes"),
        "preprocessing": meta.get("preprocessing"), "training": meta.get("training"),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"model          {args.model} (bpx {info['bpx_version']}, format {info['format_version']})")
    print(f"architecture   {' -> '.join(map(str, sizes))}; hidden {info['activation']}, output {info['output']}, "
          f"loss {info['loss']}")
    precision = f", precision {info['precision']}" if info["precision"] else ""
    print(f"dtype          {info['dtype']}{precision}; init {info['init']}, seed {info['seed']}"
          + ("" if info["bias"] else "; no biases") + (f"; dropout {info['dropout']}" if any(info["dropout"]) else ""))
    print("layers")
    for layer in layers:
        print(f"  {layer['layer']:>2}  dense {layer['n_in']:>5} -> {layer['n_out']:<5} {layer['activation']:<10} "
              f"{layer['params']:>10,} parameters (W {layer['n_in']}x{layer['n_out']}"
              + (f" + b {layer['n_out']})" if layer["biases"] else ")"))
    print(f"total          {info['total_params']:,} parameters")
    classes = info["classes"]
    if classes:
        shown = ", ".join(classes[:20]) + (", ..." if len(classes) > 20 else "")
        print(f"classes        {len(classes)}: {shown}")
    pre = info["preprocessing"]
    if pre:
        print(f"preprocessing  {_scaling_text(pre.get('scaling'))}; task {pre.get('task')}; "
              f"label column {pre.get('label_column')!r}")
        columns = pre.get("columns") or []
        text = [c for c in columns if c.get("type") == "text"]
        if columns:
            print(f"table          {len(columns)} columns ({len(columns) - len(text)} numeric, {len(text)} text one-hot "
                  f"into {sum(len(c.get('categories', [])) for c in text)}); missing cells: {pre.get('missing')}")
    training = info["training"]
    if training:
        result = training.get("result", {})
        acc = "; ".join(f"{k} accuracy {v['accuracy']:.4f}" if "accuracy" in v else f"{k} R² {v['r2']:.4f}"
                        for k, v in result.items() if "accuracy" in v or "r2" in v)
        print(f"trained on     {training.get('data')}: {training.get('optimizer')} lr={training.get('lr')}, "
              f"{training.get('epochs_run', training.get('epochs'))} epochs" + (f"; {acc}" if acc else ""))
    return 0


def _scaling_text(scaling):
    if not scaling:
        return "no scaling"
    method = scaling.get("method")
    if method == "max":
        return f"scaling max (X / {scaling.get('scale'):g})"
    if method == "255":
        return "scaling X / 255"
    if method == "standardize":
        return "scaling standardize (per-feature mean and std of the training data)"
    return "no scaling"
