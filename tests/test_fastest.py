"""backend="fastest" (bpx.fastest): the choice logic and its cache, with an injected timer.

Nothing here times anything: a fake timer returns made-up figures, so the tests check which backend is
picked from given figures, what the cache keeps and when it answers, never a measured speed.
"""

import json
import logging

import numpy as np
import pytest

import bpx
import bpx.tools._fastest as fastest
from bpx.cli import main


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own, empty cache directory through $BPX_CACHE_DIR."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("BPX_CACHE_DIR", str(folder))
    monkeypatch.delenv("BPX_FASTEST_REFRESH", raising=False)
    return folder


class FakeTimer:
    """Returns fixed samples/s per spec (or an error) and counts its calls and what it was asked."""

    def __init__(self, speeds):
        self.speeds, self.calls = speeds, []

    def __call__(self, specs, sizes, batch, dtype, activation, output, loss):
        self.calls.append((list(specs), list(sizes), batch, dtype, activation, output, loss))
        out = {}
        for spec in specs:
            speed = self.speeds[spec]
            out[spec] = {"error": speed} if isinstance(speed, str) else \
                {"samples_per_s": float(speed), "us_per_step": batch / speed * 1e6, "compile_s": None}
        return out


def _specs(backend):
    return list(dict.fromkeys([backend.spec, "numpy"]))


def test_pick_takes_the_most_samples_per_second_and_skips_failures():
    figures = {"numpy": {"samples_per_s": 10.0}, "torch": {"samples_per_s": 30.0}, "jax": {"error": "boom"},
               "dask": {"samples_per_s": 20.0}}
    assert fastest.pick(figures) == "torch"
    assert fastest.pick({"a": {"samples_per_s": 5.0}, "b": {"samples_per_s": 5.0}}) == "a"  # ties: the earlier
    with pytest.raises(ValueError, match="no backend could be timed here.*jax: boom"):
        fastest.pick({"jax": {"error": "boom"}})


def test_choose_picks_the_fastest_and_says_why(backend, caplog):
    specs = _specs(backend)
    speeds = {spec: 100.0 * (i + 1) for i, spec in enumerate(specs)}  # the last listed is fastest
    timer = FakeTimer(speeds)
    with caplog.at_level(logging.INFO, logger="bpx.fastest"):
        chosen = fastest.choose([6, 5, 3], batch=8, dtype="float32", specs=specs, timer=timer)
    assert chosen.spec == specs[-1] and isinstance(chosen, bpx.Backend)
    choice = chosen.fastest
    assert choice["picked"] == specs[-1] and choice["cached"] is False
    assert choice["figures"][specs[-1]]["samples_per_s"] == speeds[specs[-1]]
    assert (choice["sizes"], choice["batch"], choice["dtype"]) == ([6, 5, 3], 8, "float32")
    assert timer.calls == [(specs, [6, 5, 3], 8, "float32", "relu", "softmax", "cross_entropy")]
    assert f"picked {specs[-1]} for MLP 6-5-3, batch 8, float32" in caplog.text


def test_the_cache_answers_the_same_question_and_refresh_times_again(backend, cache):
    specs = _specs(backend)
    timer = FakeTimer({spec: 50.0 for spec in specs})
    first = fastest.choose([4, 3, 2], batch=4, specs=specs, timer=timer)
    second = fastest.choose([4, 3, 2], batch=4, specs=specs, timer=timer)
    assert len(timer.calls) == 1 and second.fastest["cached"] is True
    assert second.spec == first.spec and second.fastest["figures"] == first.fastest["figures"]
    data = json.loads((cache / "fastest.json").read_text())
    assert data["format"] == "bpx-fastest" and len(data["entries"]) == 1
    fastest.choose([4, 3, 2], batch=4, specs=specs, timer=timer, refresh=True)
    assert len(timer.calls) == 2


def test_refresh_from_the_environment(backend, monkeypatch):
    specs = _specs(backend)
    timer = FakeTimer({spec: 50.0 for spec in specs})
    fastest.choose([4, 3, 2], batch=4, specs=specs, timer=timer)
    monkeypatch.setenv("BPX_FASTEST_REFRESH", "1")
    fastest.choose([4, 3, 2], batch=4, specs=specs, timer=timer)
    assert len(timer.calls) == 2


@pytest.mark.parametrize("change", [{"batch": 16}, {"dtype": "float64"}, {"sizes": [4, 5, 2]},
                                    {"activation": "tanh"}])
def test_each_architecture_batch_and_dtype_is_its_own_entry(backend, cache, change):
    specs = _specs(backend)
    timer = FakeTimer({spec: 50.0 for spec in specs})
    base = {"sizes": [4, 3, 2], "batch": 4, "dtype": "float32", "activation": "relu"}
    fastest.choose(specs=specs, timer=timer, **base)
    fastest.choose(specs=specs, timer=timer, **{**base, **change})
    assert len(timer.calls) == 2
    assert len(json.loads((cache / "fastest.json").read_text())["entries"]) == 2


def test_another_machine_does_not_reuse_the_choice(backend, monkeypatch):
    specs = _specs(backend)
    timer = FakeTimer({spec: 50.0 for spec in specs})
    fastest.choose([4, 3, 2], batch=4, specs=specs, timer=timer)
    key = fastest.machine_key()
    monkeypatch.setattr(fastest, "machine_key", lambda: {**key, "cpu": "another CPU"})
    fastest.choose([4, 3, 2], batch=4, specs=specs, timer=timer)
    assert len(timer.calls) == 2


def test_a_corrupt_cache_is_timed_again_and_rewritten(backend, cache):
    specs = _specs(backend)
    cache.mkdir()
    (cache / "fastest.json").write_text("{not json")
    timer = FakeTimer({spec: 50.0 for spec in specs})
    chosen = fastest.choose([4, 3, 2], batch=4, specs=specs, timer=timer)
    assert chosen.fastest["cached"] is False and len(timer.calls) == 1
    assert json.loads((cache / "fastest.json").read_text())["format"] == "bpx-fastest"


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BPX_CACHE_DIR", str(tmp_path / "a"))
    assert fastest.cache_dir() == str(tmp_path / "a")
    monkeypatch.delenv("BPX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fastest.cache_dir() == str(tmp_path / "xdg" / "bpx")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fastest.cache_dir() == str(tmp_path / "home" / ".cache" / "bpx")


def test_mlp_backend_fastest_times_that_network(backend, monkeypatch):
    specs = _specs(backend)
    timer = FakeTimer({spec: 10.0 * (i + 1) for i, spec in enumerate(specs)})
    monkeypatch.setattr(fastest, "candidates", lambda: specs)
    monkeypatch.setattr(fastest, "time_backends", timer)
    net = bpx.MLP([5, 7, 3], activation="tanh", output="sigmoid", loss="mse", backend="fastest:12", dtype="float32")
    assert net.backend.spec == specs[-1] and net.backend.fastest["picked"] == specs[-1]
    assert timer.calls == [(specs, [5, 7, 3], 12, "float32", "tanh", "sigmoid", "mse")]
    assert "fastest" not in repr(net)  # the network records the backend it runs on
    net.fit(np.zeros((4, 5)), np.zeros((4, 3)), epochs=1, verbose=0)  # and trains there


def test_fastest_needs_a_network_and_follows_bpx_backend(backend, monkeypatch):
    specs = _specs(backend)
    timer = FakeTimer({spec: 1.0 for spec in specs})
    monkeypatch.setattr(fastest, "candidates", lambda: specs)
    monkeypatch.setattr(fastest, "time_backends", timer)
    with pytest.raises(ValueError, match=r"bpx.MLP\(backend='fastest'\)"):
        bpx.get_backend("fastest")  # no network to time: said before any work
    assert timer.calls == []
    chosen = fastest.choose()
    assert chosen.spec == specs[0]
    assert timer.calls[0][1:3] == (list(fastest.DEFAULT_SIZES), fastest.DEFAULT_BATCH)
    monkeypatch.setenv("BPX_BACKEND", "fastest:3")
    bpx.MLP([3, 2], output="softmax")
    assert timer.calls[-1][1:3] == ([3, 2], 3)


@pytest.mark.parametrize("spec,message", [("fastest:0", "positive integer"), ("fastest:x", "positive integer")])
def test_bad_fastest_specs_are_refused_before_any_work(spec, message, monkeypatch):
    monkeypatch.setattr(fastest, "time_backends", lambda *a: pytest.fail("timed a bad spec"))
    with pytest.raises(ValueError, match=message):
        bpx.MLP([3, 2], backend=spec)


@pytest.mark.parametrize("kwargs,error", [({"sizes": [3]}, ValueError), ({"sizes": "3,2"}, TypeError),
                                          ({"batch": 0}, ValueError), ({"dtype": "float16"}, TypeError),
                                          ({"activation": "nonesuch"}, ValueError)])
def test_choose_checks_its_arguments_before_timing(kwargs, error):
    with pytest.raises(error):
        fastest.choose(**{"sizes": [3, 2], **kwargs}, specs=["numpy"], timer=lambda *a: pytest.fail("timed"))


def test_cli_bench_fastest_prints_the_choice_and_writes_json(backend, monkeypatch, tmp_path, capsys):
    specs = _specs(backend)
    timer = FakeTimer({spec: 10.0 * (i + 1) for i, spec in enumerate(specs)})
    monkeypatch.setattr(fastest, "time_backends", timer)
    js = tmp_path / "f.json"
    argv = ["bench", "--fastest", "--hidden", "4", "--features", "3", "--classes", "2", "--batch", "8",
            "--backends", ",".join(specs), "--json", str(js), "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"picked {specs[-1]} for MLP 3-4-2, batch 8, float32" in out and "| backend | samples/s |" in out
    assert json.loads(js.read_text())["fastest"]["picked"] == specs[-1]
    assert main(argv) == 0 and len(timer.calls) == 1  # cached
    assert main(argv + ["--refresh"]) == 0 and len(timer.calls) == 2


def test_cli_refresh_needs_fastest(capsys):
    assert main(["bench", "--refresh", "-q"]) == 1
    assert "--refresh goes with --fastest" in capsys.readouterr().err
