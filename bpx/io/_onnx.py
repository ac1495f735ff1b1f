"""ONNX export: bpx's own forward pass, run on ndonnx arrays, recorded as an ONNX graph.

ndonnx is an array library that implements the array API standard by building ONNX graphs, so the
code that trains a network (the functional core's ``forward``: ``Dense.forward`` and the activation functions) runs
on its arrays unchanged (they take the generic array-API path, never a fast path: ``inplace_ok`` is
false for them) and what it computes becomes the graph. Nothing here writes a layer or an activation
by hand; a new activation exports as soon as its code uses only standard functions.

The graph (ai.onnx opset :data:`OPSET`, the one ndonnx writes):

- input ``X``: raw features, shape ``(N, n_features)`` with a dynamic batch ``N``, the model's dtype.
  The preprocessing a model carries (:class:`bpx.data.TablePreprocessor`, ``net.metadata["preprocessing"]``)
  is in the graph for its numeric columns: a missing value (NaN) becomes the training median (unless
  the model refuses missing cells) and the scaling is recorded from :meth:`bpx.preprocessing.Scaler.apply`.
  ``X``'s columns are the encoded matrix's (the metadata property ``bpx.inputs`` names them): the
  numeric columns in training order, raw, then the one-hot columns of the text columns, which stay
  host-side (encode them with ``TablePreprocessor``, or pass a table to ``net.predict``). For an
  all-numeric model, ``X`` is the raw table, as ``bpx predict`` takes it;
- classifiers: ``probabilities`` (``net.predict_proba``, ``(N, n_out)``) and ``label``: the class
  name (a string) where the model has class names, else ``net.predict``'s int64 labels;
- regressors: ``values`` (``net.forward``, ``(N, n_out)``).

ndonnx guards every matrix product and reduction against zero-size arrays with an ``If`` whose
branches are whole sub-graphs (an onnxruntime workaround). bpx knows its shapes (weights are
constants; only the batch varies, and onnxruntime handles an empty batch without the guard, as the
tests check), so :func:`onnx_model` keeps only the branch that computes, drops ``Identity`` nodes and
dead nodes, and stores constants as initializers (``lean=False`` keeps ndonnx's graph as it is).
ndonnx's NaN handling of ``max`` (the standard's rule, which ONNX leaves open) is kept.

ndonnx, onnx and onnxruntime are optional: ``pip install 'bpx-backprop[onnx]'``.
"""

from __future__ import annotations

import contextlib
import os

from .._version import __version__
from ..backends._backend import to_numpy
from ..data._preprocessing import describe
from ..data._table import TablePreprocessor
from ..nn._functional import forward
from ..utils._atomic import write_atomically
from ..utils._extras import install_hint
from ..utils._paths import check_output_file
from ._persistence import check_model

OPSET = 21  # ai.onnx opset of the graphs ndonnx 0.23 writes; checked against the built model


def require_onnx():
    """``(ndonnx, onnx)``, or an ImportError with the install hint."""
    try:
        import ndonnx
        import onnx
    except ImportError as exc:
        raise ImportError(f"ONNX export needs ndonnx and onnx: {install_hint('onnx')} ({exc})") from None
    return ndonnx, onnx


def _check_activations(net, ndx, dtype):
    """Every activation the network uses, run on a symbolic (N, n_out) array: an activation whose code
    ndonnx cannot record has no ONNX form, and is named before any other work."""
    seen = {}
    for i, layer in enumerate(net.layers, 1):
        act = layer.activation
        if act.name in seen:
            continue
        try:
            out = act(ndx.argument(shape=("N", layer.n_out), dtype=dtype))
            if not isinstance(out, ndx.Array):
                raise TypeError(f"it returned a {type(out).__name__}, not an array of the input's library")
        except Exception as exc:  # any failure of user code on a tracing library: name it
            raise ValueError(
                f"layer {i}'s activation {act.name!r} has no ONNX form: its code does not run on ndonnx arrays "
                f"(only array-API standard functions export): {type(exc).__name__}: {exc}"
            ) from None
        seen[act.name] = True


def onnx_model(net, *, lean=True):
    """The ONNX model (an ``onnx.ModelProto``) of ``net``, recorded from bpx's forward code on ndonnx
    arrays (see the module docstring for its inputs and outputs); checked with ``onnx.checker``.

    Parameters
    ----------
    net : bpx.MLP
        The network, on any backend.
    lean : bool, default True
        Drop ndonnx's zero-size guards and fold its reductions (same numbers, fewer nodes).

    Returns
    -------
    onnx.ModelProto

    Raises
    ------
    ImportError
        If ndonnx or onnx is not installed.
    TypeError
        If ``net`` is not a :class:`bpx.MLP`.
    ValueError
        If an activation does not run on ndonnx arrays, or the stored preprocessing does not fit the model."""
    check_model(net)
    ndx, onnx = require_onnx()
    dtype = getattr(ndx, net.dtype)
    pre = TablePreprocessor.of(net)
    if pre is not None and pre.n_features_out != net.n_features:
        raise ValueError(f"net.metadata's preprocessing encodes {pre.n_features_out} features, the model has "
                         f"{net.n_features}")

    def const(values):
        return ndx.asarray(to_numpy(values).astype(net.dtype))

    with _reference_value_propagation():
        _check_activations(net, ndx, dtype)
        X = ndx.argument(shape=("N", net.n_features), dtype=dtype)
        A = X if pre is None else _prepared(pre, X, ndx, const)
        # the same layers and forward code, on ndonnx arrays: the parameters become graph constants
        A, _ = forward(net, [const(p) for p in net.params], A)
        outputs = {"probabilities": A, "label": _label(net, ndx, A)} if net.is_classifier else {"values": A}
        model = ndx.build({"X": X}, outputs)
    if lean:
        _lean(model)
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", opsets.get("ai.onnx")) != OPSET:
        raise RuntimeError(f"ndonnx wrote opset {opsets}; bpx.export documents opset {OPSET}: update OPSET and the README")
    model.producer_name, model.producer_version = "bpx", __version__
    model.doc_string = f"bpx {net!r}"
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, **_props(net)})
    onnx.checker.check_model(model, full_check=True)
    return model


def _prepared(pre, X, ndx, const):
    """The numeric columns of ``X`` imputed and scaled as :meth:`TablePreprocessor.transform` does; the
    one-hot columns after them as they come."""
    import numpy as np

    k = len(pre.numeric)
    if not k:
        return X
    numeric = X if k == X.shape[1] else X[:, :k]
    if pre.missing == "impute":
        medians = const(np.asarray([c["median"] for c in pre.numeric]))
        numeric = ndx.where(ndx.isnan(numeric), medians, numeric)
    numeric = pre.scaler.apply(numeric, const)
    return numeric if k == X.shape[1] else ndx.concat([numeric, X[:, k:]], axis=1)


@contextlib.contextmanager
def _reference_value_propagation():
    """While recording, spox folds constants with its NumPy reference implementation instead of the
    onnxruntime session per node that ndonnx selects: the same graph (the tests compare), about twice
    as fast to record. Without that spox setting, nothing changes but the speed."""
    try:
        import spox._value_prop as value_prop

        before, quick = value_prop._VALUE_PROP_BACKEND, value_prop.ValuePropBackend.REFERENCE
    except (ImportError, AttributeError):
        yield
        return
    value_prop._VALUE_PROP_BACKEND = quick
    try:
        yield
    finally:
        value_prop._VALUE_PROP_BACKEND = before


def _label(net, ndx, A):
    """The predicted label, as ``net.predict`` (softmax: argmax; sigmoid: p >= 0.5) and, where the
    model has class names, as ``bpx predict`` writes it (the name of the argmax, or of p >= 0.5 for
    one unit)."""
    if net.output == "softmax" or (net.classes is not None and net.n_outputs > 1):
        index = ndx.argmax(A, axis=1)
    else:
        index = ndx.astype(A >= 0.5, ndx.int64)
        if net.n_outputs == 1:
            index = index[:, 0]
    if net.classes is None:
        return index
    import numpy as np

    return ndx.take(ndx.asarray(np.asarray([str(c) for c in net.classes])), index)


def _props(net):
    import json

    return {"bpx.layer_sizes": json.dumps(net.layer_sizes), "bpx.activation": net.activation, "bpx.output": net.output,
            "bpx.dtype": net.dtype, "bpx.classes": json.dumps(net.classes), "bpx.preprocessing": json.dumps(describe(net)),
            "bpx.inputs": json.dumps(_inputs(net))}


def _inputs(net):
    """The names of X's columns: the preprocessing's encoded columns, else x1..xn."""
    pre = TablePreprocessor.of(net)
    return pre.output_names if pre is not None else [f"x{j + 1}" for j in range(net.n_features)]


def export_onnx(net, path, *, lean=True):
    """Write ``net`` as an ONNX model to exactly ``path``, atomically (an existing file is replaced only
    once the new one is complete and on disk, as :func:`bpx.save` does). Returns the path.

    The graph is recorded from bpx's own forward pass on ndonnx arrays, includes the model's stored
    preprocessing, has a dynamic batch dimension and the model's dtype, and is checked with
    ``onnx.checker``; see :mod:`bpx.export` for its inputs and outputs.

    Parameters
    ----------
    net : bpx.MLP
        The network, on any backend.
    path : str or os.PathLike
        The ``.onnx`` file to write; its folder must exist and be writable.
    lean : bool, default True
        Keep only the computing branch of ndonnx's zero-size guards and fold its reductions (the same
        numbers, a much smaller graph); ``False`` writes the graph as recorded.

    Returns
    -------
    str or os.PathLike
        ``path``.

    Raises
    ------
    ImportError
        If ndonnx or onnx is not installed (``pip install 'bpx-backprop[onnx]'``).
    TypeError
        If ``net`` is not a :class:`bpx.MLP`.
    ValueError
        If an activation does not run on ndonnx arrays (it uses functions outside the array API),
        naming the layer and the activation, or the stored scaling does not fit the model; nothing
        is written.
    PermissionError
        If the folder is not writable."""
    check_model(net)
    path = check_output_file(path, "path")
    _check_writable(path)
    blob = onnx_model(net, lean=lean).SerializeToString()
    write_atomically(path, lambda f: f.write(blob))
    return path


def _check_writable(path):
    """A folder we cannot write into is refused before any work (the write itself would fail later)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"path {path!r}: the folder {folder!r} is not writable")


# -- keeping the graph lean -----------------------------------------------------------------------------
def _lean(model):
    """In place: zero-size guards replaced by their computing branch, Identity nodes bypassed, the
    ``Unsqueeze -> ReduceMax -> Squeeze`` of ndonnx's min/max folded to one reduction, dead nodes and
    unused constants dropped, constants stored as initializers."""
    graph = model.graph
    _inline_zero_size_guards(graph)
    _bypass_identities(graph)
    _drop_dead(graph)
    _constants_to_initializers(graph)
    _fold_reductions(model)
    _drop_dead(graph)
    used = set().union(*(_used_names(n) for n in graph.node))
    live = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    del graph.value_info[:]


def _producers(graph):
    return {o: n for n in graph.node for o in n.output}


def _is_zero_constant(node):
    import onnx

    if node is None or node.op_type != "Constant" or len(node.attribute) != 1 or node.attribute[0].name != "value":
        return False
    value = onnx.numpy_helper.to_array(node.attribute[0].t)
    return value.size == 1 and value.reshape(()) == 0


def _is_size_expression(name, producers):
    """``Size(x)`` or a product of such: a test on the sizes of arrays, nothing else."""
    node = producers.get(name)
    if node is None:
        return False
    if node.op_type == "Size":
        return True
    return node.op_type == "Mul" and all(_is_size_expression(i, producers) for i in node.input)


def _is_zero_size_guard(node, producers):
    if node.op_type != "If":
        return False
    test = producers.get(node.input[0])
    if test is None or test.op_type != "Equal":
        return False
    a, b = test.input
    return ((_is_zero_constant(producers.get(b)) and _is_size_expression(a, producers))
            or (_is_zero_constant(producers.get(a)) and _is_size_expression(b, producers)))


def _inline_zero_size_guards(graph):
    from onnx import helper

    changed = True
    while changed:
        changed = False
        producers = _producers(graph)
        nodes = []
        for node in graph.node:
            if not changed and _is_zero_size_guard(node, producers):
                branch = next(a.g for a in node.attribute if a.name == "else_branch")
                nodes.extend(branch.node)
                nodes.extend(helper.make_node("Identity", [o.name], [out]) for o, out in zip(branch.output, node.output))
                changed = True
            else:
                nodes.append(node)
        if changed:
            del graph.node[:]
            graph.node.extend(nodes)


def _bypass_identities(graph):
    outputs = {o.name for o in graph.output}
    inputs = {i.name for i in graph.input}
    rename = {}
    nodes = []
    for node in graph.node:
        if node.op_type == "Identity" and node.output[0] not in outputs:
            rename[node.output[0]] = rename.get(node.input[0], node.input[0])
        else:
            nodes.append(node)
    for node in nodes:
        node.input[:] = [rename.get(i, i) for i in node.input]
        _rename_in_subgraphs(node, rename)
    # an Identity that produces a graph output from a node's result: let the node produce the output itself
    producers = {o for n in nodes for o in n.output}
    final = []
    for node in nodes:
        source = node.input[0] if node.op_type == "Identity" else None
        if source in producers and source not in inputs and source not in outputs:
            rename = {source: node.output[0]}
            for other in nodes:
                other.input[:] = [rename.get(i, i) for i in other.input]
                other.output[:] = [rename.get(o, o) for o in other.output]
                _rename_in_subgraphs(other, rename)
            continue
        final.append(node)
    del graph.node[:]
    graph.node.extend(final)


def _rename_in_subgraphs(node, rename):
    for attr in node.attribute:
        for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            for sub in g.node:
                sub.input[:] = [rename.get(i, i) for i in sub.input]
                _rename_in_subgraphs(sub, rename)


def _used_names(node):
    """The names a node reads, including those its sub-graphs read from the enclosing scope."""
    names = set(node.input)
    for attr in node.attribute:
        for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            for sub in g.node:
                names |= _used_names(sub)
    return names


def _drop_dead(graph):
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed |= _used_names(node)
    del graph.node[:]
    graph.node.extend(reversed(kept))


def _constants_to_initializers(graph):
    nodes = []
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = node.attribute[0].t
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)


def _fold_reductions(model):
    """``Squeeze(Reduce{Max,Min}(Unsqueeze(x, [rank x]), axes < rank x), [-1])`` -> ``Reduce(x, axes)``:
    ndonnx appends an axis of length 1 before every min/max and removes it after; the reduction
    never touches it."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model).graph
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in [*inferred.value_info, *inferred.input]
             if v.type.tensor_type.HasField("shape")}
    values = {t.name: numpy_helper.to_array(t).tolist() for t in graph.initializer}
    producers = _producers(graph)
    uses = {}
    for node in graph.node:
        for i in _used_names(node):
            uses[i] = uses.get(i, 0) + 1
    gone = set()
    for squeeze in graph.node:
        if squeeze.op_type != "Squeeze" or len(squeeze.input) != 2 or values.get(squeeze.input[1]) != [-1]:
            continue
        reduce = producers.get(squeeze.input[0])
        if reduce is None or reduce.op_type not in ("ReduceMax", "ReduceMin") or len(reduce.input) != 2:
            continue
        unsqueeze = producers.get(reduce.input[0])
        if unsqueeze is None or unsqueeze.op_type != "Unsqueeze" or len(unsqueeze.input) != 2:
            continue
        rank = ranks.get(unsqueeze.input[0])
        axes = values.get(reduce.input[1])
        if (rank is None or values.get(unsqueeze.input[1]) not in ([rank], [-1]) or not isinstance(axes, list)
                or not all(0 <= a < rank for a in axes) or uses.get(reduce.output[0]) != 1
                or uses.get(unsqueeze.output[0]) != 1 or squeeze.output[0] in {o.name for o in graph.output}):
            continue
        reduce.input[0] = unsqueeze.input[0]
        reduce.output[0] = squeeze.output[0]
        gone.update((id(unsqueeze), id(squeeze)))
    kept = [n for n in graph.node if id(n) not in gone]
    del graph.node[:]
    graph.node.extend(kept)


def node_count(model):
    """The number of nodes of an ONNX model, those inside sub-graphs (If branches) included.

    Parameters
    ----------
    model : onnx.ModelProto

    Returns
    -------
    int"""

    def count(graph):
        total = 0
        for node in graph.node:
            total += 1
            for attr in node.attribute:
                for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    total += count(g)
        return total

    return count(model.graph)
