"""The multi-layer perceptron: forward pass, the four backprop equations, training.

With row-major batches (X is (m, n_in), W[l] is (n_in, n_out), b[l] is (n_out,)), one step is

    forward       Z[l] = A[l-1] @ W[l] + b[l],   A[l] = g(Z[l])               (Dense.forward)
    dropout       A[l] ← A[l] ⊙ mask[l] / (1 − p)  on hidden layers, training only  (nn.forward)
    BP1           dZ[L] = ∂C/∂A[L] ⊙ g'(Z[L])  (= (A[L] − Y)/m for matched pairs)   (Loss.delta)
    BP2           dZ[l] = (dZ[l+1] @ W[l+1]ᵀ) ⊙ [mask[l]/(1 − p)] ⊙ g'(Z[l])  (Dense.delta_below)
    BP3, BP4      dW[l] = A[l-1]ᵀ @ dZ[l],   db[l] = Σ_samples dZ[l]          (Dense.gradients)
    update        W[l] −= lr · dW[l]  (or the optimizer's rule)              (Optimizer.step)

The math is the functional core's (:mod:`bpx.nn._functional`: functions of ``(net, params, inputs)``);
the model owns its state (config, parameters, host random streams) and exposes it publicly, so engines,
optimizers and tools never reach into it (docs/development/architecture.md). Nothing here imports an
array library: the namespace comes from the network's :class:`Backend`.
"""

from __future__ import annotations

import json

from array_api_compat import is_dask_array

from ..backends._backend import dtype_name, get_backend, host_rngs, on_device, to_numpy
from ..data._adapter import as_data, as_inputs
from ..data._model_inputs import fit_inputs, model_input, model_labels, named_predictions
from ..nn._activations import get_activation
from ..nn._dropout import batch_masks
from ..nn._functional import forward as forward_pass
from ..nn._functional import loss_and_grads, measure
from ..nn._initializers import default_init, get_initializer
from ..nn._layers import Dense, param_layout
from ..nn._losses import get_loss
from ..nn._precision import check_precision, compute_dtype, supports
from ..optimizers._loss_scaling import LossScaler, check_loss_scaler
from ..training._fastest import backend_for
from ..training._history import History  # noqa: F401 (the type fit returns)
from ..training._loop import fit as fit_loop
from ..training._step import check_optimizer
from ..training._step import train_step as run_step
from ..utils._validation import check_bool, check_float, check_int, check_layer_sizes

CLASSIFIER_OUTPUTS = ("sigmoid", "softmax")
CONFIG_KEYS = ("layer_sizes", "activation", "output", "loss", "dtype", "seed", "init", "bias", "dropout", "precision")


class HostStreams:
    """A network's host random streams (docs/development/architecture.md: all randomness is drawn on
    the host): ``shuffle`` (the epochs' shuffles and ``validation_split``) and ``dropout`` (the
    dropout masks), two ``numpy.random.Generator`` spawned from the network's seed. Engines and tools
    read and set them through ``net.rngs``; checkpoints save their states."""

    __slots__ = ("shuffle", "dropout")

    def __init__(self, shuffle, dropout):
        self.shuffle, self.dropout = shuffle, dropout


class MLP:
    """A multi-layer perceptron trained by hand-derived backpropagation.

    ``layer_sizes`` includes the input and output widths: ``[784, 128, 10]`` has one hidden layer of
    128 units. Hidden layers use ``activation``, the output layer ``output``; ``loss`` is the cost.
    ``backend`` is a spec for :func:`bpx.get_backend` (default ``$BPX_BACKEND``, else ``auto``); ``"fastest"``
    times this network on every usable backend and keeps the fastest (:class:`bpx.backends.Fastest`).
    ``init`` picks the initializer (``"lecun"``, the seeds' randn/√fan_in; ``"glorot"``; ``"he"``;
    default He for relu/leaky_relu, LeCun otherwise). One ``seed`` gives the same initial network on
    every backend, bit for bit in float64.

    ``bias=False`` builds layers without biases (``Z = A @ W``, the two-layer NumPy networks):
    :attr:`params` is then ``[W1, W2, ...]``. ``dropout`` is the probability of dropping a hidden unit
    while training (one value for every hidden layer, or one per hidden layer; inverted dropout: the
    kept units are scaled by 1/(1 − p), so nothing changes at prediction time, where dropout is off).
    The masks are drawn on the host from the network's seed (docs/development/architecture.md,
    "Randomness happens on the host"), so one seed gives the same masks, and the same training trajectory, on every backend.

    ``precision="bf16"`` is mixed precision (:mod:`bpx.precision`): the matrix products of the forward
    and backward pass run in bfloat16, while the parameters, the optimizer state, the activations, the
    loss and the cost stay in ``dtype`` (which must be float32). Offered on torch and JAX; refused,
    before any work, on backends without a fast bfloat16 (NumPy, array-api-strict, Dask).
    ``precision="fp16"`` does the same in float16 (torch, JAX, CuPy) and trains with dynamic loss
    scaling (:mod:`bpx.loss_scaling`), set by ``loss_scaler`` (a :class:`bpx.LossScaler`; None: its
    defaults, torch.amp.GradScaler's).

    What engines, optimizers and tools read (the model's public protocol, docs/development/architecture.md):
    :meth:`get_config` (the architecture, written once; :meth:`from_config` builds from it), :attr:`params`
    (the live parameter list), ``layers``, ``slices``, ``loss_fn``, ``fused``, ``output`` and
    ``array_dtype`` (what the functional core :mod:`bpx.nn._functional` computes with), ``rngs`` (the
    host streams ``rngs.shuffle`` and ``rngs.dropout``) and :meth:`dropout_masks`. The data adapter
    (:mod:`bpx.data._adapter`) turns what a user passes into the network's arrays. Every argument after
    ``layer_sizes`` is keyword-only.

    Parameters
    ----------
    layer_sizes : sequence of int
        The widths, input first and output last (at least two, each positive).
    activation : str, default "relu"
        The hidden layers' activation (a name of :data:`bpx.ACTIVATIONS` or one registered with
        :func:`bpx.activation`).
    output : str, default "softmax"
        The output layer's activation.
    loss : str, default "cross_entropy"
        The cost (a name of :data:`bpx.LOSSES`); it must suit ``output``.
    backend : str or Backend, optional
        Where the network lives (default ``$BPX_BACKEND``, else ``"auto"``).
    dtype : str, default "float32"
        "float32" or "float64".
    seed : int or None, default 0
        The seed of the host streams (initial weights, shuffles, dropout masks).
    init : str, optional
        "lecun", "glorot" or "he" (default: He for relu/leaky_relu, else LeCun).
    bias : bool, default True
        Whether the layers have biases.
    dropout : float or sequence of float, default 0.0
        The drop probability of the hidden units while training, in [0, 1).
    precision : {None, "bf16", "fp16"}, default None
        Mixed precision for the matrix products (float32 ``dtype`` only).
    loss_scaler : LossScaler, optional
        fp16's dynamic loss scaling (``precision="fp16"`` only).

    Raises
    ------
    TypeError, ValueError
        For any argument that is not as described, naming it, before anything is built; ValueError
        also for an unknown or unusable backend, or a dtype or precision the backend does not have.
    """

    def __init__(self, layer_sizes, *, activation="relu", output="softmax", loss="cross_entropy",
                 backend=None, dtype="float32", seed=0, init=None, bias=True, dropout=0.0, precision=None,
                 loss_scaler=None):
        sizes = check_layer_sizes(layer_sizes)
        bias = check_bool(bias, "bias")
        dropout = _check_dropout(dropout, len(sizes) - 2)
        hidden = get_activation(activation, "activation")
        out = get_activation(output, "output")
        self.loss_fn = get_loss(loss)
        init = default_init(hidden.name) if init is None else init
        initializer = get_initializer(init)
        if seed is not None:
            seed = check_int(seed, "seed", minimum=0)
        self.dtype = dtype_name(dtype)
        network = {"layer_sizes": sizes, "activation": hidden.name, "output": out.name, "loss": self.loss_fn.name,
                   "dtype": self.dtype, "bias": bias, "dropout": list(dropout),
                   "precision": check_precision(precision, self.dtype)}
        self.backend = backend_for(backend, network, lambda spec: MLP(**network, backend=spec))  # "fastest": timed
        self.array_dtype = self.backend.dtype(self.dtype)  # the namespace's dtype object (what the math casts to)
        self.precision = check_precision(precision, self.dtype)
        self.loss_scaler = check_loss_scaler(loss_scaler, self.precision)  # fp16 only (bpx.loss_scaling)
        low = compute_dtype(self.backend, self.precision)  # refused here where the backend has no such type
        if self.loss_fn.name == "poisson" and out.name != "exp":
            raise ValueError(f"loss='poisson' needs output='exp' (its canonical link), got output={out.name!r}")
        if self.loss_fn.name not in ("mse", "poisson") and out.name not in CLASSIFIER_OUTPUTS:
            raise ValueError(
                f"loss={self.loss_fn.name!r} needs probabilities, so output must be 'sigmoid' or 'softmax', "
                f"got output={out.name!r}"
            )
        if out.name == "softmax" and sizes[-1] < 2:
            raise ValueError("a softmax output needs at least 2 units; use output='sigmoid' for one")
        self.layer_sizes, self.activation, self.output = sizes, hidden.name, out.name
        self.seed, self.init, self.bias, self.dropout = seed, init, bias, dropout
        self.layers = [Dense(n_in, n_out, hidden, bias) for n_in, n_out in zip(sizes[:-2], sizes[1:-1])]
        self.layers.append(Dense(sizes[-2], sizes[-1], out, bias))
        for layer in self.layers:
            layer.compute_dtype = low
        self.slices, start = [], 0  # layer l's parameters are self.params[self.slices[l]]
        for layer in self.layers:
            self.slices.append(slice(start, start + len(layer.slots)))
            start += len(layer.slots)
        self.fused = out.name == self.loss_fn.pairs_with  # BP1 is (A - Y)/m (bpx.nn losses)
        init_rng, shuffle, dropout_rng = host_rngs(seed, 3)
        self.rngs = HostStreams(shuffle, dropout_rng)
        xp, dev = self.backend.xp, self.backend.device
        self._params = []
        with self.backend.device_context():  # CuPy makes the zeros on its current device, whatever device= says
            for layer in self.layers:
                self._params.append(self.backend.asarray(initializer(init_rng, layer.n_in, layer.n_out), self.dtype))
                if layer.bias:
                    self._params.append(xp.zeros(layer.n_out, dtype=self.array_dtype, device=dev))
        self.optimizer = None
        self.classes = None  # optional class names (a list of str), saved with the model
        self.metadata = {}  # JSON-serializable facts saved with the model (e.g. the CLI's preprocessing)

    # -- the architecture, written once -------------------------------------------------------------
    def get_config(self):
        """The architecture and the settings that build this network, as JSON values: the keyword
        arguments of :meth:`from_config` (and of the constructor, with ``layer_sizes``). The one place
        the architecture is written out: saving, checkpoints, copies, ``repr`` and interop read it.

        Returns
        -------
        dict
            ``layer_sizes``, ``activation``, ``output``, ``loss``, ``dtype``, ``seed``, ``init``,
            ``bias``, ``dropout`` (one probability per hidden layer) and ``precision``."""
        return {"layer_sizes": list(self.layer_sizes), "activation": self.activation, "output": self.output,
                "loss": self.loss_fn.name, "dtype": self.dtype, "seed": self.seed, "init": self.init,
                "bias": self.bias, "dropout": list(self.dropout), "precision": self.precision}

    @classmethod
    def from_config(cls, config, *, backend=None, loss_scaler=None):
        """A new network built from :meth:`get_config`'s dict (freshly initialised from its seed), on
        ``backend`` (default ``$BPX_BACKEND``, else ``auto``); ``loss_scaler`` as the constructor's.

        Raises
        ------
        TypeError, ValueError
            For a config that is not a dict, a key the constructor does not take, or a bad value."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict (MLP.get_config()), got {type(config).__name__}")
        config = dict(config)
        if "layer_sizes" not in config:
            raise ValueError("config must hold 'layer_sizes'")
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            raise ValueError(f"config has unknown keys {unknown}; MLP.get_config() gives {list(CONFIG_KEYS)}")
        return cls(config.pop("layer_sizes"), backend=backend, loss_scaler=loss_scaler, **config)

    @property
    def loss_name(self):
        """The name of the cost (the constructor's ``loss``; :meth:`loss` computes it)."""
        return self.loss_fn.name

    # -- description --------------------------------------------------------------------------------
    def __repr__(self):
        c = self.get_config()
        extra = ("" if c["bias"] else ", bias=False") + (f", dropout={c['dropout']!r}" if any(c["dropout"]) else "")
        extra += f", precision={c['precision']!r}" if c["precision"] else ""
        extra += f", loss_scaler={self.loss_scaler!r}" if self.loss_scaler not in (None, LossScaler()) else ""
        return (f"MLP({c['layer_sizes']}, activation={c['activation']!r}, output={c['output']!r}, "
                f"loss={c['loss']!r}, backend={self.backend.spec!r}, dtype={c['dtype']!r}{extra})")

    @property
    def is_classifier(self):
        return self.output in CLASSIFIER_OUTPUTS

    @property
    def n_features(self):
        return self.layer_sizes[0]

    @property
    def n_outputs(self):
        return self.layer_sizes[-1]

    @property
    def n_params(self):
        return sum(n_in * n_out + (n_out if self.bias else 0)
                   for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]))

    # -- parameters ---------------------------------------------------------------------------------
    @property
    def params(self):
        """``[W1, b1, W2, b2, ...]`` (``[W1, W2, ...]`` with ``bias=False``, see :meth:`param_names`): the
        network's own, live list of backend arrays (training updates them in place on numpy/cupy/torch,
        or replaces the list; copy with :func:`bpx.to_numpy` to keep a snapshot). Assigning a list
        (``net.params = new``) installs it as it is, unchecked: what engines and optimizers do between
        steps; :meth:`set_params` checks and copies."""
        return self._params

    @params.setter
    def params(self, params):
        self._params = params if type(params) is list else list(params)

    def param_names(self):
        """The names of :attr:`params`, in order: ``["W1", "b1", "W2", ...]`` or ``["W1", "W2", ...]``."""
        return [name for name, _ in param_layout(self.layer_sizes, self.bias)]

    def param_shapes(self):
        return [shape for _, shape in param_layout(self.layer_sizes, self.bias)]

    @property
    def weights(self):
        """The weight matrices ``[W1, W2, ...]`` (live backend arrays, like :attr:`params`)."""
        return [self._params[s.start] for s in self.slices]

    @property
    def biases(self):
        """The bias vectors ``[b1, b2, ...]`` (live backend arrays); ``[]`` for a network without biases."""
        return [self._params[s.start + 1] for s in self.slices if s.stop - s.start > 1]

    def set_params(self, params):
        """Replace the parameters with copies of ``params`` (numpy or backend arrays, W (n_in, n_out),
        b (n_out,)). All are checked before any is replaced."""
        layout = param_layout(self.layer_sizes, self.bias)
        listing = f"[{', '.join(name for name, _ in layout[:3])}, ...]" if len(layout) > 3 else \
            f"[{', '.join(name for name, _ in layout)}]"
        if isinstance(params, (str, bytes)) or not hasattr(params, "__len__"):
            raise TypeError(f"params must be a list {listing}, got {type(params).__name__}")
        if len(params) != len(layout):
            raise ValueError(f"params must hold {len(layout)} arrays {listing}, got {len(params)}")
        xp = self.backend.xp
        new = []
        for i, (p, (kind, shape)) in enumerate(zip(params, layout)):
            name = f"params[{i}] ({kind})"
            arr = self.backend.asarray(p, name=name)
            if not xp.isdtype(arr.dtype, ("real floating", "integral")):
                raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
            arr = xp.astype(arr, self.array_dtype, copy=False)
            if tuple(arr.shape) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tuple(arr.shape)}")
            # always a copy: training updates parameters in place, and host arrays may share memory
            # with the backend's (torch on the CPU does), so the caller's arrays must never be aliased
            new.append(xp.asarray(arr, copy=True))
        if not bool(xp.all(xp.stack([xp.all(xp.isfinite(p)) for p in new]))):
            raise ValueError("params contain NaN or infinite values")
        self._params = new

    def copy(self, backend=None, dtype=None):
        """An independent copy of this network (same architecture, seed and parameters), optionally on
        another ``backend`` or in another ``dtype``; the parameters travel through the host."""
        precision = self._precision_on(backend, dtype)
        config = dict(self.get_config(), precision=precision)
        if dtype is not None:
            config["dtype"] = dtype
        twin = MLP.from_config(config, backend=self.backend if backend is None else backend,
                               loss_scaler=self.loss_scaler if precision == "fp16" else None)
        twin.set_params([to_numpy(p) for p in self._params])
        twin.classes = None if self.classes is None else list(self.classes)
        twin.metadata = json.loads(json.dumps(self.metadata))
        return twin

    def _precision_on(self, backend, dtype=None):
        """This network's mixed precision where ``backend`` (None: its own) offers it for float32
        ``dtype`` (None: its own), else None: a copy elsewhere computes in its dtype throughout."""
        if self.precision is None or (dtype is not None and dtype_name(dtype) != "float32"):
            return None
        return self.precision if backend is None or supports(get_backend(backend), self.precision) else None

    def dropout_masks(self, m):
        """Fresh dropout masks for a batch of ``m`` rows: per hidden layer an (m, n) array of 0 and
        1/(1 − p), drawn on the host from the dropout stream (``rngs.dropout``) and moved to the device as packed
        bits (``bpx.nn._dropout``: every backend draws the same masks); None when this network has no dropout."""
        if not any(self.dropout):
            return None
        widths = [layer.n_out for layer in self.layers[:-1]]
        masks = batch_masks(self.backend, self.rngs.dropout, widths, self.dropout, self.array_dtype, m)
        return masks + [None]  # never on the output layer

    # -- public math --------------------------------------------------------------------------------
    @on_device
    def forward(self, X):
        """The output activations A[L], shape (m, n_out) (a lazy dask array for a dask X)."""
        if is_dask_array(X):
            return self._distributed().forward(self, X)
        return forward_pass(self, self._params, as_inputs(self, X))[0]

    @on_device
    def loss(self, X, Y):
        """The cost C on (X, Y) as a Python float."""
        if is_dask_array(X):
            return self._distributed().evaluate(self, X, Y)["loss"]
        return self._evaluate_arrays(*as_data(self, X, Y))["loss"]

    @on_device
    def loss_and_grads(self, X, Y):
        """``(cost, grads)``: the cost as a float and ∂C/∂p for every p in :attr:`params` (fresh arrays).
        Dropout is off here (the network as it predicts); :func:`bpx.gradcheck` checks the gradients
        with a fixed dropout mask."""
        if is_dask_array(X):
            return self._distributed().loss_and_grads(self, X, Y)
        X, Y = as_data(self, X, Y)
        cost, grads, _ = loss_and_grads(self, self._params, X, Y)
        return float(cost), grads

    @on_device
    def train_step(self, X, Y, optimizer):
        """One forward/backward/update on exactly this batch; returns the cost before the update."""
        check_optimizer(optimizer, self)
        if is_dask_array(X):
            return self._distributed().train_step(self, X, Y, optimizer)
        X, Y = as_data(self, X, Y)
        return float(run_step(self, optimizer, X, Y))  # compiled where the backend compiles (bpx.step)

    def predict_proba(self, X):
        """Class probabilities (m, n_out) for sigmoid/softmax outputs. ``X`` goes through the
        preprocessing the model carries, as in :meth:`predict`."""
        if not self.is_classifier:
            raise ValueError(f"predict_proba needs a sigmoid or softmax output; this network's output is {self.output!r}")
        if is_dask_array(X):
            return self._distributed().forward(self, X, "predict_proba")
        return self.forward(model_input(self, X))

    @on_device
    def predict(self, X):
        """Class labels (m,) for softmax; 0/1 labels for sigmoid ((m,) for one unit, else (m, n_out));
        the output values (m, n_out) for an identity output. A dask X gives a lazy dask array.

        ``X`` may be a DataFrame (pandas, polars, pyarrow): a model that carries preprocessing (trained
        by ``bpx train``, or fitted on a DataFrame) applies it to any host X, matching a table's columns
        by name, and returns class names (a NumPy array) where it has them; see
        :mod:`bpx.data._model_inputs` and docs/guide/csv.md."""
        if is_dask_array(X):
            return self._distributed().forward(self, X, "predict")
        xp = self.backend.xp
        A = self.forward(model_input(self, X))
        if self.output == "softmax":
            return named_predictions(self, xp.argmax(A, axis=1))
        if self.output == "sigmoid":
            labels = xp.astype(A >= 0.5, xp.int64)
            return named_predictions(self, labels[:, 0]) if self.n_outputs == 1 else labels
        return A

    @on_device
    def evaluate(self, X, Y):
        """``{"loss": C, "accuracy": fraction correct}`` (accuracy for classifiers only). ``X`` goes
        through the model's preprocessing as in :meth:`predict`; text labels are class names."""
        if is_dask_array(X):
            return self._distributed().evaluate(self, X, Y)
        return self._evaluate_arrays(*as_data(self, model_input(self, X), model_labels(self, Y)))

    # -- training ---------------------------------------------------------------------------------------
    @on_device
    def fit(self, X, Y, *, epochs=1, batch_size=None, optimizer=None, shuffle=True, validation_data=None,
            verbose=1, validation_split=0.0, early_stopping=None, sample_weight=None, callbacks=None,
            checkpoint=None, checkpoint_every=1, resume=False):
        """Train by backpropagation; returns a :class:`History`. The loop is :func:`bpx.training.fit`
        (one loop for every array library and optimizer; see ``docs/guide/training.md``).

        ``batch_size=None`` is full batch (the seeds' gradient descent). ``optimizer`` defaults to the
        one of the previous ``fit``, else ``Adam()``; ``optimizer=bpx.LBFGS()`` runs ``epochs`` L-BFGS
        iterations on the full batch (see :mod:`bpx.lbfgs`). Validation data is ``(X_val, Y_val)``, or a
        ``validation_split`` fraction held out at random. ``early_stopping=patience`` stops after that
        many epochs without a better validation loss (training loss without validation data) and
        restores the best parameters (:class:`bpx.EarlyStopping`, run before the ``callbacks`` given: their
        ``on_train_end`` sees the restored parameters). The host is synchronised once per
        epoch; a non-finite loss or parameter raises :class:`TrainingDiverged` naming the epoch and
        batch, with the parameters of the last finite epoch restored. ``sample_weight`` (m,) weighs
        each sample's loss: every batch's cost is its weighted mean (scikit-learn's normalisation).
        ``callbacks`` is a list of :class:`bpx.Callback` objects or functions ``f(epoch, logs)``.
        ``checkpoint=PATH`` writes a checkpoint every ``checkpoint_every`` epochs (and at the end);
        ``resume=True`` continues from the checkpoint at PATH (starts fresh when there is none) to
        ``epochs`` in total, ending bit for bit where an uninterrupted run ends. A dask X, or a lazy
        backend (``dask``), trains data-parallel over X's row chunks; JAX runs whole compiled epochs.

        Parameters
        ----------
        X, Y : arrays
            Samples (m, n_in) and targets (labels (m,) or (m, n_out)). ``X`` may be a DataFrame
            (pandas, polars, pyarrow): it fits the preprocessing the model then carries (columns by
            name, imputation, one-hot text columns, scaling; :class:`bpx.data.TablePreprocessor`),
            and ``Y`` may then hold class names. Boolean labels are classes 0 and 1.
        epochs : int
            Epochs in total (with ``resume=True``, including those the checkpoint holds).

        Returns
        -------
        History

        Raises
        ------
        TypeError, ValueError
            Bad arguments, before any work.
        bpx.training.CheckpointError
            A checkpoint that cannot be resumed (of another run: what differs is named).
        TrainingDiverged
            The loss or a parameter became NaN or infinite.
        """
        X, Y, validation_data = fit_inputs(self, X, Y, validation_data)  # DataFrames, text and bool labels
        return fit_loop(self, X, Y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, shuffle=shuffle,
                             validation_data=validation_data, verbose=verbose, validation_split=validation_split,
                             early_stopping=early_stopping, sample_weight=sample_weight, callbacks=callbacks,
                             checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume)

    @staticmethod
    def _distributed():
        """bpx.distributed (imported on first use: it needs dask)."""
        import bpx.training.engines._dask_math as distributed  # optional dependency: it imports dask

        return distributed

    def _evaluate_arrays(self, X, Y):
        """``{"loss", "accuracy"}`` on device arrays, with one host sync."""
        xp = self.backend.xp
        cost, correct = (float(v) for v in self.backend.to_numpy(xp.stack(measure(self, self._params, X, Y))))
        result = {"loss": cost}
        if self.is_classifier:
            result["accuracy"] = correct / X.shape[0]
        return result


def _check_dropout(dropout, n_hidden):
    """``dropout`` as one probability in [0, 1) per hidden layer (a list of ``n_hidden`` floats)."""
    if isinstance(dropout, (list, tuple)):
        if len(dropout) != n_hidden:
            raise ValueError(f"dropout must be one probability or one per hidden layer ({n_hidden}), "
                             f"got {len(dropout)} values")
        return [check_float(p, f"dropout[{i}]", low=0.0, high=1.0, high_open=True) for i, p in enumerate(dropout)]
    if isinstance(dropout, (str, bytes)) or hasattr(dropout, "__len__"):
        raise TypeError(f"dropout must be a probability in [0, 1) or a list of them, got {type(dropout).__name__}")
    p = check_float(dropout, "dropout", low=0.0, high=1.0, high_open=True)
    if p and not n_hidden:
        raise ValueError(f"dropout={p} needs a hidden layer; this network has none")
    return [p] * n_hidden
