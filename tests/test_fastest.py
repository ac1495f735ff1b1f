"""backend="fastest": the decision and its cache (bpx.backends) and its timing (bpx.training), with fakes.

Nothing here measures a speed: a fake timer returns made-up figures, and the timing function itself is
run with a fake clock, so the tests check which backend is picked from given figures, what the record and
the cache keep and when they answer, never a measured speed.
"""

import ast
import copy
import json
import logging
import math
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import bpx
import bpx.backends._fastest as decision
import bpx.training._fastest as timing
from bpx.backends import Fastest, FastestChoice
from bpx.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own, empty cache directory through $BPX_CACHE_DIR."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("BPX_CACHE_DIR", str(folder))
    monkeypatch.delenv("BPX_FASTEST_REFRESH", raising=False)
    return folder


class FakeTimer:
    """Returns fixed figures per spec (samples/s, or (samples/s, compile s), or an error string) and
    records what it was asked."""

    def __init__(self, speeds):
        self.speeds, self.calls = speeds, []

    def __call__(self, specs, batch):
        self.calls.append((list(specs), batch))
        out = {}
        for spec in specs:
            speed = self.speeds[spec]
            if isinstance(speed, str):
                out[spec] = {"error": speed}
                continue
            speed, compile_s = speed if isinstance(speed, tuple) else (speed, 0.0)
            out[spec] = {"samples_per_s": float(speed), "us_per_step": batch / speed * 1e6, "compile_s": compile_s}
        return out


class FakeClock:
    """A clock that moves only when read: each call of the timed function lasts the next of ``durations``
    (the clock is read once before and once after every call)."""

    def __init__(self, durations):
        self.durations, self.now, self.reads = list(durations), 0.0, 0

    def __call__(self):
        if self.reads % 2:  # an end reading: the call took its scripted time
            self.now += self.durations.pop(0)
        self.reads += 1
        return self.now


NETWORK = {"layer_sizes": [4, 3, 2], "activation": "relu", "output": "softmax", "loss": "cross_entropy",
           "dtype": "float32", "bias": True, "dropout": [0.0], "precision": None}


def _specs(backend):
    return tuple(dict.fromkeys([backend.spec, "numpy"]))


def _choose(timer, network=NETWORK, **request):
    return decision.choose_fastest(network, Fastest(**request), timer)


# -- the decision ---------------------------------------------------------------------------------------
def test_decide_takes_the_shortest_planned_run_and_keeps_every_reason():
    figures = decision.plan({"numpy": {"us_per_step": 100.0}, "torch": {"us_per_step": 30.0},
                             "jax": {"error": "dtype='float64' ... set JAX_ENABLE_X64=1"}}, 1000)
    picked, timed, rejected = decision.decide(figures)
    assert picked == "torch" and set(timed) == {"numpy", "torch"}
    assert timed["torch"]["planned_s"] == pytest.approx(0.03)
    assert rejected == {"jax": "dtype='float64' ... set JAX_ENABLE_X64=1"}
    tie = decision.plan({"a": {"us_per_step": 5.0}, "b": {"us_per_step": 5.0}}, 10)
    assert decision.decide(tie)[0] == "a"  # ties: the earlier
    with pytest.raises(ValueError, match="no backend could run this network here.*jax: boom"):
        decision.decide({"jax": {"error": "boom"}})


def test_compile_time_counts_against_the_planned_steps():
    # jax steps 4x faster than numpy but compiles for 2 s: worth it only for a long run
    figures = {"numpy": {"us_per_step": 400.0, "compile_s": 0.0}, "jax": {"us_per_step": 100.0, "compile_s": 2.0}}
    assert decision.decide(decision.plan(figures, 100))[0] == "numpy"  # 0.04 s against 2.01 s
    assert decision.decide(decision.plan(figures, 100_000))[0] == "jax"  # 40 s against 12 s
    # the same through choose_fastest, with a fake timer; the compiling candidate is played by a backend
    # every test session has (array-api-strict is a test dependency), so the pick can be built here
    timer = FakeTimer({"numpy": 1000.0, "array_api_strict": (4000.0, 2.0)})
    assert _choose(timer, batch=4, planned_steps=30, candidates=("numpy", "array_api_strict")).spec == "numpy"
    assert _choose(timer, batch=4, planned_steps=10**6, candidates=("numpy", "array_api_strict")).spec == "array_api_strict"


def test_choose_picks_the_fastest_and_says_why_at_warning_level(backend, caplog, cache):
    specs = _specs(backend)
    speeds = {spec: 100.0 * (i + 1) for i, spec in enumerate(specs)} | {"jax": "needs JAX_ENABLE_X64=1"}
    timer = FakeTimer(speeds)
    with caplog.at_level(logging.WARNING, logger="bpx.fastest"):
        chosen = _choose(timer, batch=8, candidates=specs + ("jax",))
    assert chosen.spec == specs[-1] and isinstance(chosen, bpx.Backend)
    choice = chosen.chosen_by
    assert isinstance(choice, FastestChoice) and choice.picked == specs[-1] and choice.cached is False
    assert choice.figures[specs[-1]]["samples_per_s"] == speeds[specs[-1]]
    assert choice.rejected == {"jax": "needs JAX_ENABLE_X64=1"}
    assert (choice.network, choice.request.batch) == (NETWORK, 8)
    assert timer.calls == [(list(specs) + ["jax"], 8)]
    [record] = [r for r in caplog.records if r.name == "bpx.fastest"]
    assert record.levelno == logging.WARNING
    assert f"picked {specs[-1]} for MLP 4-3-2, batch 8, float32, 1,000 planned steps" in record.message
    assert "jax rejected: needs JAX_ENABLE_X64=1" in record.message
    assert str(cache / "fastest.json") in record.message and choice.cache_file == str(cache / "fastest.json")


def test_the_record_survives_copy_pickle_and_the_network(backend):
    timer = FakeTimer({spec: 50.0 for spec in _specs(backend)})
    chosen = _choose(timer, batch=4, candidates=_specs(backend))
    for again in (pickle.loads(pickle.dumps(chosen)), copy.deepcopy(chosen), copy.copy(chosen)):
        assert again == chosen and again.chosen_by == chosen.chosen_by
    assert chosen.fastest["picked"] == chosen.spec  # the dict view kept for earlier code
    assert bpx.get_backend(chosen.spec).chosen_by is None


# -- the cache --------------------------------------------------------------------------------------------
def test_the_cache_answers_the_same_question_and_refresh_times_again(backend, cache):
    timer = FakeTimer({spec: 50.0 for spec in _specs(backend)})
    first = _choose(timer, batch=4, candidates=_specs(backend))
    second = _choose(timer, batch=4, candidates=_specs(backend))
    assert len(timer.calls) == 1 and second.chosen_by.cached is True
    assert second.spec == first.spec and second.chosen_by.figures == first.chosen_by.figures
    data = json.loads((cache / "fastest.json").read_text())
    assert data["format"] == "bpx-fastest" and len(data["entries"]) == 1
    _choose(timer, batch=4, candidates=_specs(backend), refresh=True)
    assert len(timer.calls) == 2


def test_refresh_from_the_environment(backend, monkeypatch):
    timer = FakeTimer({spec: 50.0 for spec in _specs(backend)})
    _choose(timer, batch=4, candidates=_specs(backend))
    monkeypatch.setenv("BPX_FASTEST_REFRESH", "1")
    _choose(timer, batch=4, candidates=_specs(backend))
    assert len(timer.calls) == 2


@pytest.mark.parametrize("change", [{"batch": 16}, {"planned_steps": 50}, {"dtype": "float64"},
                                    {"layer_sizes": [4, 5, 2]}, {"activation": "tanh"}, {"precision": "bf16"}])
def test_what_changes_the_answer_is_its_own_entry(backend, cache, change):
    timer = FakeTimer({spec: 50.0 for spec in _specs(backend)})
    request = {"batch": 4, "candidates": _specs(backend)}
    _choose(timer, **request)
    network = {**NETWORK, **{k: v for k, v in change.items() if k in NETWORK}}
    _choose(timer, network, **{**request, **{k: v for k, v in change.items() if k not in NETWORK}})
    assert len(timer.calls) == 2
    assert len(json.loads((cache / "fastest.json").read_text())["entries"]) == 2


@pytest.mark.parametrize("part", ["host", "cpu", "source", "bpx", "versions"])
def test_another_machine_or_software_does_not_reuse_the_choice(backend, monkeypatch, cache, part):
    timer = FakeTimer({spec: 50.0 for spec in _specs(backend)})
    _choose(timer, batch=4, candidates=_specs(backend))
    key = decision.machine_key()
    monkeypatch.setattr(decision, "machine_key", lambda: {**key, part: "changed"})
    _choose(timer, batch=4, candidates=_specs(backend))
    assert len(timer.calls) == 2
    # another host's entry stays (a shared home); this host's made by other software is pruned as stale
    assert len(json.loads((cache / "fastest.json").read_text())["entries"]) == (2 if part == "host" else 1)


def test_an_edited_source_file_changes_the_fingerprint(tmp_path, monkeypatch):
    before = decision.source_fingerprint()
    assert before == decision.source_fingerprint()
    module = pathlib.Path(decision.__file__)
    stat = module.stat()
    try:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert decision.source_fingerprint() != before  # an editable install: same version, other code
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert decision.source_fingerprint() == before


def test_prune_drops_old_stale_and_surplus_entries(monkeypatch):
    machine = {"host": "h", "cpu": "c", "source": "new"}
    day = 86400.0
    now = 1_000 * day

    def stamp(t):
        import time

        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    entries = {"fresh": {"timed_at": stamp(now - day), "machine": machine},
               "old": {"timed_at": stamp(now - (decision.MAX_AGE_DAYS + 1) * day), "machine": machine},
               "stale": {"timed_at": stamp(now - day), "machine": {**machine, "source": "old"}},
               "other host": {"timed_at": stamp(now - day), "machine": {**machine, "host": "g"}},
               "broken": {"timed_at": "yesterday"}}
    assert set(decision.prune(entries, machine, now)) == {"fresh", "other host"}
    monkeypatch.setattr(decision, "MAX_ENTRIES", 2)
    many = {f"e{i}": {"timed_at": stamp(now - i * 60), "machine": machine} for i in range(5)}
    assert set(decision.prune(many, machine, now)) == {"e0", "e1"}  # the newest


def test_a_corrupt_cache_is_timed_again_and_rewritten(backend, cache):
    cache.mkdir()
    (cache / "fastest.json").write_text("{not json")
    timer = FakeTimer({spec: 50.0 for spec in _specs(backend)})
    chosen = _choose(timer, batch=4, candidates=_specs(backend))
    assert chosen.chosen_by.cached is False and len(timer.calls) == 1
    assert json.loads((cache / "fastest.json").read_text())["format"] == "bpx-fastest"


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BPX_CACHE_DIR", str(tmp_path / "a"))
    assert decision.cache_dir() == str(tmp_path / "a")
    monkeypatch.delenv("BPX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert decision.cache_dir() == str(tmp_path / "xdg" / "bpx")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert decision.cache_dir() == str(tmp_path / "home" / ".cache" / "bpx")


# -- the timing, with a fake clock ------------------------------------------------------------------------
def test_time_backends_times_the_very_network_with_the_clock_it_is_given(backend):
    built = []

    def build(spec):
        built.append(spec)
        return bpx.MLP([3, 4, 2], backend=spec, dtype="float32")

    clock = FakeClock([2.0, 0.1, 0.3, 0.2])  # first call (compiles), then three timed calls
    figures = timing.time_backends(build, [backend.spec], batch=4, steps=5, repeats=3, clock=clock)
    f = figures[backend.spec]
    assert built == [backend.spec]
    assert f["us_per_step"] == pytest.approx(0.2 / 5 * 1e6) and f["samples_per_s"] == pytest.approx(20 / 0.2)
    assert (f["first_call_s"], f["compile_s"], f["steps"]) == (pytest.approx(2.0), pytest.approx(1.8), 5)


def test_time_backends_rejects_a_backend_with_its_reason(backend):
    def build(spec):
        return bpx.MLP([3, 4, 2], backend=spec, dtype="float32", precision="bf16")

    clock = FakeClock([1.0] * 8)
    figures = timing.time_backends(build, ["numpy", "nonesuch"], batch=2, steps=1, repeats=1, clock=clock)
    assert "precision='bf16' is not offered on backend 'numpy'" in figures["numpy"]["error"]
    assert "'nonesuch' is unknown" in figures["nonesuch"]["error"]


def test_a_bf16_network_never_gets_a_backend_that_refuses_bf16(monkeypatch):
    monkeypatch.setattr(decision, "candidates", lambda: ["numpy"])
    with pytest.raises(ValueError, match="numpy: precision='bf16' is not offered"):
        bpx.MLP([3, 2], backend="fastest:2", precision="bf16")


# -- the model and the CLI --------------------------------------------------------------------------------
def test_mlp_backend_fastest_times_that_network(backend, monkeypatch):
    specs = list(_specs(backend))
    asked = []

    def fake(build, specs, batch, steps):
        nets = {spec: build(spec) for spec in specs}
        asked.append((list(specs), batch, {spec: (n.layer_sizes, n.activation, n.output, n.loss_name, n.dtype)
                                           for spec, n in nets.items()}))
        return FakeTimer({spec: 10.0 * (i + 1) for i, spec in enumerate(specs)})(specs, batch)

    monkeypatch.setattr(decision, "candidates", lambda: specs)
    monkeypatch.setattr(timing, "time_backends", fake)
    net = bpx.MLP([5, 7, 3], activation="tanh", output="sigmoid", loss="mse", backend="fastest:12", dtype="float32")
    assert net.backend.spec == specs[-1] and net.backend.chosen_by.picked == specs[-1]
    assert asked == [(specs, 12, {spec: ([5, 7, 3], "tanh", "sigmoid", "mse", "float32") for spec in specs})]
    assert net.backend.chosen_by.network["layer_sizes"] == [5, 7, 3]
    assert net.copy().backend.chosen_by == net.backend.chosen_by
    assert "fastest" not in repr(net)  # the network records the backend it runs on
    net.fit(np.zeros((4, 5)), np.zeros((4, 3)), epochs=1, verbose=0)  # and trains there


def test_fastest_needs_a_network_and_follows_bpx_backend(backend, monkeypatch):
    specs = list(_specs(backend))
    timer = FakeTimer({spec: 1.0 for spec in specs})
    monkeypatch.setattr(decision, "candidates", lambda: specs)
    monkeypatch.setattr(timing, "time_backends", lambda build, specs, batch, steps: timer(specs, batch))
    with pytest.raises(ValueError, match=r"bpx.MLP\(backend='fastest'\)"):
        bpx.get_backend("fastest")  # no network to time: said before any work
    assert timer.calls == []
    monkeypatch.setenv("BPX_BACKEND", "fastest:3")
    bpx.MLP([3, 2], output="softmax")
    assert timer.calls[-1] == (specs, 3)
    net = bpx.MLP([3, 2], backend=Fastest(batch=5, planned_steps=7))
    assert timer.calls[-1] == (specs, 5) and net.backend.chosen_by.request.planned_steps == 7


@pytest.mark.parametrize("spec,message", [("fastest:0", "positive integer"), ("fastest:x", "positive integer")])
def test_bad_fastest_specs_are_refused_before_any_work(spec, message, monkeypatch):
    monkeypatch.setattr(timing, "time_backends", lambda *a, **k: pytest.fail("timed a bad spec"))
    with pytest.raises(ValueError, match=message):
        bpx.MLP([3, 2], backend=spec)


@pytest.mark.parametrize("kwargs", [{"batch": 0}, {"planned_steps": -1}, {"batch": True}, {"candidates": []},
                                    {"candidates": "numpy"}])
def test_fastest_checks_its_arguments(kwargs):
    with pytest.raises(ValueError, match="Fastest: "):
        Fastest(**kwargs)


def test_the_models_import_path_holds_no_benchmark_harness():
    """Read from the AST: nothing below bpx.tools imports bpx.tools (the harness), at any depth."""
    for path in (ROOT / "bpx").rglob("*.py"):
        rel = path.relative_to(ROOT / "bpx").parts
        if rel[0] in ("tools", "cli") or len(rel) == 1:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                assert "tools" not in target.split("."), f"{path}: imports {target}"
    code = ("import sys, bpx.training._fastest as t\n"
            "t.time_backends = lambda build, specs, batch, steps: {s: {'us_per_step': 1.0, 'samples_per_s': 1.0}"
            " for s in specs}\n"
            "import bpx.models\n"
            "bpx.models.MLP([3, 2], backend=bpx.backends.Fastest(batch=2, candidates=('numpy',)))\n"
            "print(sorted(m for m in sys.modules if m.startswith('bpx.tools._bench')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]"


def test_cli_bench_fastest_prints_the_choice_and_writes_json(backend, monkeypatch, tmp_path, capsys, cache):
    specs = list(_specs(backend))
    timer = FakeTimer({spec: 10.0 * (i + 1) for i, spec in enumerate(specs)})
    monkeypatch.setattr(timing, "time_backends", lambda build, specs, batch, steps: timer(specs, batch))
    js = tmp_path / "f.json"
    argv = ["bench", "--fastest", "--hidden", "4", "--features", "3", "--classes", "2", "--batch", "8",
            "--planned-steps", "90", "--backends", ",".join(specs), "--json", str(js), "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"picked {specs[-1]} for MLP 3-4-2, batch 8, float32, 90 planned steps" in out
    assert "| backend | planned run s |" in out and f"cache: {cache / 'fastest.json'}" in out
    assert json.loads(js.read_text())["fastest"]["picked"] == specs[-1]
    assert main(argv) == 0 and len(timer.calls) == 1  # cached
    assert main(argv + ["--refresh"]) == 0 and len(timer.calls) == 2


def test_cli_bench_json_dash_means_stdout(backend, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    timer = FakeTimer({backend.spec: 10.0})
    monkeypatch.setattr(timing, "time_backends", lambda build, specs, batch, steps: timer(specs, batch))
    assert main(["bench", "--fastest", "--hidden", "4", "--features", "3", "--classes", "2", "--batch", "8",
                 "--backends", backend.spec, "--json", "-", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["fastest"]["picked"] == backend.spec
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("flag", [["--refresh"], ["--planned-steps", "5"], ["--precision", "bf16"]])
def test_cli_fastest_options_need_fastest(capsys, flag):
    assert main(["bench", *flag, "-q"]) == 1
    assert f"{flag[0]} goes with --fastest" in capsys.readouterr().err


def test_cli_train_times_the_runs_batch_and_plans_its_steps(backend, monkeypatch, tmp_path, capsys):
    specs = list(_specs(backend))
    timer = FakeTimer({spec: 10.0 * (i + 1) for i, spec in enumerate(specs)})
    monkeypatch.setattr(decision, "candidates", lambda: specs)
    monkeypatch.setattr(timing, "time_backends", lambda build, specs, batch, steps: timer(specs, batch))
    out = tmp_path / "m.npz"
    assert main(["train", "--backend", "fastest", "--batch-size", "16", "--epochs", "3", "--hidden", "8",
                 "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert timer.calls == [(specs, 16)]  # the run's own batch size, not 256
    assert report["backend"] == specs[-1] == report["fastest"]["picked"]
    assert report["fastest"]["request"]["batch"] == 16 and report["fastest"]["request"]["planned_steps"] % 3 == 0


def test_cli_train_plans_epochs_times_steps(backend, monkeypatch, tmp_path, capsys):
    specs = list(_specs(backend))
    timer = FakeTimer({spec: 10.0 for spec in specs})
    monkeypatch.setattr(decision, "candidates", lambda: specs)
    monkeypatch.setattr(timing, "time_backends", lambda build, specs, batch, steps: timer(specs, batch))
    assert main(["train", "--backend", "fastest", "--batch-size", "32", "--epochs", "3", "--hidden", "8",
                 "--out", str(tmp_path / "m.npz")]) == 0
    printed = capsys.readouterr().out
    rows = int(next(line for line in printed.splitlines() if line.startswith("data:")).split(": ")[2].split()[0])
    held = int(next(line for line in printed.splitlines() if line.startswith("validation:")).split()[1])
    assert f"batch 32, float32, {3 * math.ceil((rows - held) / 32):,} planned steps" in printed  # the rows fit sees
    assert "cache " in printed


def test_bpx_info_says_where_the_choices_are_and_lists_them(backend, capsys, cache):
    timer = FakeTimer({spec: 50.0 for spec in _specs(backend)})
    _choose(timer, batch=4, candidates=_specs(backend))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"backend='fastest' (cache {cache / 'fastest.json'}" in out
    assert "for MLP 4-3-2 float32, batch 4, 1,000 planned steps" in out
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fastest"]["cache_file"] == str(cache / "fastest.json")


def test_load_with_backend_fastest_times_the_saved_network(backend, monkeypatch, tmp_path):
    specs = list(_specs(backend))
    timer = FakeTimer({spec: 10.0 * (i + 1) for i, spec in enumerate(specs)})
    monkeypatch.setattr(decision, "candidates", lambda: specs)
    monkeypatch.setattr(timing, "time_backends", lambda build, specs, batch, steps: timer(specs, batch))
    net = bpx.MLP([4, 6, 2], activation="tanh", backend="numpy", dtype="float32", seed=1)
    bpx.save(net, tmp_path / "m.npz")
    loaded = bpx.load(tmp_path / "m.npz", backend="fastest:3")
    assert loaded.backend.spec == specs[-1] and timer.calls == [(specs, 3)]
    assert loaded.backend.chosen_by.network["layer_sizes"] == [4, 6, 2]
    assert loaded.backend.chosen_by.network["activation"] == "tanh"
    np.testing.assert_array_equal(bpx.to_numpy(loaded.params[0]), bpx.to_numpy(net.params[0]))


def test_a_cached_answer_probes_no_library_and_x64_is_part_of_the_key(backend, monkeypatch):
    probes = []
    specs = list(_specs(backend))
    monkeypatch.setattr(decision, "candidates", lambda: probes.append(1) or specs)
    timer = FakeTimer({spec: 50.0 for spec in specs})
    monkeypatch.delenv("JAX_ENABLE_X64", raising=False)
    _choose(timer, batch=4)
    assert _choose(timer, batch=4).chosen_by.cached is True
    assert len(probes) == 1 and len(timer.calls) == 1  # the cached answer imported no array library
    monkeypatch.setenv("JAX_ENABLE_X64", "1")  # jax's float64 becomes usable: another question
    assert _choose(timer, batch=4).chosen_by.cached is False and len(timer.calls) == 2


def test_load_follows_bpx_backend_fastest_for_a_mixed_precision_model(backend, monkeypatch, tmp_path):
    spec = next((s for s in ("torch", "jax") if s in bpx.available_backends()), None)  # the libraries with bf16
    if spec is None:
        pytest.skip("neither torch nor jax here: no backend offers bf16")
    timer = FakeTimer({spec: 10.0})
    monkeypatch.setattr(decision, "candidates", lambda: [spec])
    monkeypatch.setattr(timing, "time_backends", lambda build, specs, batch, steps: timer(specs, batch))
    bpx.save(bpx.MLP([4, 3, 2], backend=spec, precision="bf16"), tmp_path / "m.npz")
    monkeypatch.setenv("BPX_BACKEND", "fastest:2")
    loaded = bpx.load(tmp_path / "m.npz")
    assert loaded.backend.spec == spec and loaded.precision == "bf16" and timer.calls == [([spec], 2)]
    assert loaded.backend.chosen_by.network["precision"] == "bf16"
