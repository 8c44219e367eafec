"""gg.compile: replayed steps equal eager steps bit for bit; guards retrace; what cannot be
replayed runs eagerly and says why."""
import tracemalloc
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F


def _mlp(device):
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.25),
                         nn.Linear(16, 4)).to(device)


def _convnet(device):
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 3 * 3, 4)).to(device)


def _transformer(device):
    return nn.Sequential(nn.Embedding(30, 8),
                         nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True,
                                                    norm_first=True),
                         nn.Flatten(), nn.Linear(8 * 5, 4)).to(device)


class _Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(30, 6)
        self.lstm = nn.LSTM(6, 6, batch_first=True)
        self.out = nn.Linear(6, 4)

    def forward(self, x):
        return self.out(self.lstm(self.embed(x))[0][:, -1])


def _batches(kind, device, n=5):
    rng = np.random.default_rng(3)
    out = []
    for _ in range(n):
        if kind == "convnet":
            x = gg.tensor(rng.standard_normal((6, 1, 8, 8)).astype(np.float32))
        elif kind in ("transformer", "recurrent"):
            x = gg.tensor(rng.integers(0, 30, (6, 5)))
        else:
            x = gg.tensor(rng.standard_normal((6, 12)).astype(np.float32))
        out.append((x.to(device), gg.tensor(rng.integers(0, 4, 6)).to(device)))
    return out


BUILD = {"mlp": _mlp, "convnet": _convnet, "transformer": _transformer,
         "recurrent": lambda device: _Recurrent().to(device)}


def _training_step(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _train(kind, device, compiled, optimizer=gg.optim.AdamW):
    gg.manual_seed(0)
    model = BUILD[kind](device)
    step = _training_step(model, optimizer(model.parameters(), lr=0.01))
    run = gg.compile(step, fullgraph=True) if compiled else step
    gg.manual_seed(1)  # the dropout draws
    losses = [run(x, y).item() for x, y in _batches(kind, device)]
    return losses, [p.detach().cpu().numpy().copy() for p in model.parameters()], run


@pytest.mark.parametrize("kind", sorted(BUILD))
def test_replayed_training_equals_eager_bit_for_bit(kind, device):
    eager_losses, eager_params, _ = _train(kind, device, compiled=False)
    losses, params, run = _train(kind, device, compiled=True)
    want = {"replay": 1, "tracing": 0, "eager": [], "buffers": 0}  # small: no buffers
    if device != "cpu":  # the device work replays as one CUDA graph
        want["cuda_graphs"] = 1
    assert run.stats == want
    assert losses == eager_losses  # dropout included: the same draws in the same order
    for a, b in zip(params, eager_params):
        np.testing.assert_array_equal(a, b)


def test_sgd_momentum_and_a_scheduler_step_on_every_replay():
    def train(compiled):
        gg.manual_seed(0)
        model = _mlp("cpu")
        opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = gg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            return loss
        run = gg.compile(step) if compiled else step
        losses = [run(x, y).item() for x, y in _batches("mlp", "cpu", 7)]
        return losses, opt.param_groups[0]["lr"]
    assert train(True) == train(False)


def test_the_first_two_calls_trace_then_a_plan_replays():
    w = gg.ones(3)
    calls = []

    @gg.compile
    def f(x):
        calls.append(1)  # Python side effects happen while tracing only
        return (w * x).sum()
    for _ in range(4):
        assert f(gg.ones(3)).item() == 3.0
    assert len(calls) == 2
    assert f.stats["replay"] == 1
    assert "def replay(args):" in f._variants[next(iter(f._variants))].plan.source


def test_another_shape_is_traced_anew_and_retrace_false_raises():
    f = gg.compile(lambda x: (x * 2).sum())
    for n in (3, 3, 3, 4, 4, 4):
        assert f(gg.ones(n)).item() == 2 * n
    assert f.stats["replay"] == 2
    g = gg.compile(lambda x: (x * 2).sum(), retrace=False)
    g(gg.ones(3))
    with pytest.raises(RuntimeError, match="retrace=False"):
        g(gg.ones(4))


def test_training_flag_selects_its_own_plan():
    gg.manual_seed(0)
    model = _mlp("cpu")
    x = _batches("mlp", "cpu")[0][0]
    f = gg.compile(lambda x: model(x))
    with gg.no_grad():
        model.eval()
        want_eval = model(x).numpy().copy()
        eval_out = [f(x).numpy().copy() for _ in range(3)]
        model.train()
        train_out = [f(x).numpy().copy() for _ in range(3)]
    for out in eval_out:
        np.testing.assert_array_equal(out, want_eval)
    assert not np.array_equal(train_out[2], want_eval)  # dropout is on again
    assert f.stats["replay"] == 2


def test_a_replaced_parameter_is_read_after_a_retrace():
    lin = nn.Linear(2, 1)
    f = gg.compile(lambda x: lin(x).sum())
    x = gg.ones(1, 2)
    with gg.no_grad():
        for _ in range(3):
            f(x)
        lin.weight = nn.Parameter(gg.full((1, 2), 10.0))
        assert f(x).item() == pytest.approx(20.0 + lin.bias.item())


def test_a_returned_item_is_the_new_value():
    w = gg.nn.Parameter(gg.tensor([1.0]))
    opt = gg.optim.SGD([w], lr=0.25)

    @gg.compile
    def step():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        opt.step()
        return loss.item()
    values = [step() for _ in range(4)]
    assert values == [1.0, 0.25, 0.0625, 0.015625]


def test_a_branch_on_a_changed_value_runs_that_call_eagerly():
    def f(x):
        if x.sum().item() > 0:  # control flow on a tensor's value
            return x * 2
        return x * 3
    compiled = gg.compile(f)
    ins = [gg.tensor([1.0]), gg.tensor([2.0]), gg.tensor([4.0]), gg.tensor([-1.0]),
           gg.tensor([5.0]), gg.tensor([-2.0]), gg.tensor([-3.0])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outs = [compiled(x).item() for x in ins]
    assert outs == [f(x).item() for x in ins]
    assert "read with .item()" in compiled.stats["eager"][0]
    assert any("runs eagerly" in str(w.message) for w in caught)


def test_host_data_that_changes_runs_eagerly_with_a_warning():
    counter = iter(range(100))

    def f(x):
        return x + gg.tensor(float(next(counter)))  # a value the trace cannot see made
    compiled = gg.compile(f)
    with pytest.warns(RuntimeWarning, match="made outside gpugrad's ops"):
        outs = [compiled(gg.zeros(1)).item() for _ in range(4)]
    assert outs == [0.0, 1.0, 2.0, 3.0]
    strict = gg.compile(f, fullgraph=True)
    strict(gg.zeros(1))
    with pytest.raises(RuntimeError, match="fullgraph=True"):
        strict(gg.zeros(1))


def test_constants_made_in_the_step_are_baked_and_kept_fresh():
    @gg.compile
    def f(x):
        acc = gg.zeros(3)
        acc.add_(x)  # written in place: each replay starts from zeros again
        mask = gg.tensor([1.0, 0.0, 1.0])
        return acc * mask
    for _ in range(4):
        assert f(gg.ones(3)).tolist() == [1.0, 0.0, 1.0]
    assert f.stats["replay"] == 1


@pytest.mark.parametrize("case", ["tensor hook", "module hook", "create_graph",
                                  "forward only"])
def test_what_cannot_be_replayed_runs_eagerly(case):
    w = gg.nn.Parameter(gg.tensor([2.0]))
    lin = nn.Linear(1, 1)
    seen = []
    if case == "module hook":
        lin.register_forward_hook(lambda m, i, o: seen.append(1))

    def f(x):
        if case == "tensor hook":
            y = w * x
            y.register_hook(lambda g: seen.append(1))
            y.sum().backward()
            return w.grad
        if case == "create_graph":
            (g,) = gg.grad((w ** 3).sum(), [w], create_graph=True)
            g.sum().backward()
            return w.grad
        if case == "module hook":
            return lin(x)
        return w * x  # needs a graph after the call, and none is run inside
    compiled = gg.compile(f)
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        for _ in range(3):
            w.grad = None
            compiled(gg.ones(1, 1) if case == "module hook" else gg.ones(1))
    assert compiled.stats["replay"] == 0
    if case in ("tensor hook", "module hook"):
        assert len(seen) == 3  # the hooks ran on every call


def test_a_compiled_call_inside_a_traced_one_is_traced_with_it():
    inner = gg.compile(lambda x: x * 2)
    outer = gg.compile(lambda x: inner(x) + 1)
    for _ in range(4):
        assert outer(gg.ones(2)).tolist() == [3.0, 3.0]
    assert outer.stats["replay"] == 1


def test_decorator_forms_and_options():
    @gg.compile(fullgraph=True)
    def f(x):
        return x + 1
    assert [f(gg.zeros(1)).item() for _ in range(3)] == [1.0] * 3

    def g(x):
        return x
    assert gg.compile(g, disable=True) is g
    with pytest.raises(ValueError, match="dynamic"):
        gg.compile(g, dynamic=True)
    model = nn.Linear(2, 2)
    compiled = gg.compile(model)
    assert list(compiled.parameters()) == list(model.parameters())


def test_accumulated_gradients_without_zero_grad():
    def run(compiled):
        w = gg.nn.Parameter(gg.tensor([1.0, 2.0]))

        def step(x):
            (w * x).sum().backward()
            return w.grad
        f = gg.compile(step) if compiled else step
        return [f(gg.tensor([1.0, float(i)])).tolist() for i in range(4)]
    assert run(True) == run(False)


def test_a_replay_holds_no_more_memory_than_the_eager_step():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    step = _training_step(model, gg.optim.SGD(model.parameters(), lr=0.01))
    x, y = gg.randn(256, 256), gg.randint(0, 10, (256,))

    def peak(fn):
        fn(x, y)
        tracemalloc.start()
        fn(x, y)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top
    compiled = gg.compile(step)
    compiled(x, y)
    compiled(x, y)
    assert peak(compiled) <= 1.1 * peak(step)


def test_trainer_compile_equals_eager():
    def fit(compile):
        gg.manual_seed(0)
        x = gg.randn(64, 4)
        y = (x.sum(dim=1) > 0).long()
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 2))
        trainer = gg.train.Trainer(model, gg.optim.Adam(model.parameters(), lr=0.05),
                                   F.cross_entropy, progress=False, compile=compile)
        history = trainer.fit((x, y), epochs=3, batch_size=16, val_data=(x, y))
        return dict(history), [p.detach().numpy().copy() for p in model.parameters()], trainer
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no step may fall back to eager
        compiled_history, compiled_params, trainer = fit(True)
    eager_history, eager_params, _ = fit(False)
    assert trainer._compiled.stats["replay"] == 1
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert compiled_history[key] == eager_history[key]
    for a, b in zip(compiled_params, eager_params):
        np.testing.assert_array_equal(a, b)


def test_trainer_compile_refuses_several_devices():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="one device"):
        gg.train.Trainer(model, gg.optim.SGD(model.parameters(), lr=0.1), F.mse_loss,
                         devices=["cpu", "cpu"], compile=True)


def _equal_runs(build, batches):
    """The step ``build()`` makes, eager and compiled from the same seed: their outputs."""
    def run(compiled):
        gg.manual_seed(0)
        step = build()
        f = gg.compile(step, fullgraph=True) if compiled else step
        return [[t.tolist() for t in f(*b)] for b in batches]
    return run(True), run(False)


def test_clipping_in_place_updates_batch_norm_and_setitem_replay():
    batches = _batches("mlp", "cpu", 6)

    def build():
        model = nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
        w = gg.randn(4, 4, requires_grad=True)

        def step(x, y):
            for p in model.parameters():
                p.grad = None
            w.grad = None
            out = model(x) @ w
            target = gg.zeros(len(y), 4)
            target[gg.arange(len(y)), y] = 1.0  # a setitem write with tensor indices
            loss = ((out - target) ** 2).mean()
            loss.backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            with gg.no_grad():
                for p in list(model.parameters()) + [w]:
                    p.sub_(0.1 * p.grad)  # in-place updates
            return loss, norm, model[1].running_mean, model[1].num_batches_tracked
        return step
    compiled, eager = _equal_runs(build, batches)
    assert compiled == eager


@pytest.mark.parametrize("case", ["sparse embedding", "max_norm renorm", "raw write"])
def test_writes_the_trace_cannot_replay_run_eagerly(case):
    emb = nn.Embedding(10, 3, sparse=case == "sparse embedding",
                       max_norm=1.0 if case == "max_norm renorm" else None)
    opt = gg.optim.SGD(emb.parameters(), lr=0.5)

    def step(idx):
        opt.zero_grad()
        loss = (emb(idx) ** 2).sum()
        loss.backward()
        if case == "raw write":
            emb.weight._data[0] += 1.0  # behind gpugrad's back, then said
            emb.weight._bump_version()
        opt.step()
        return loss
    compiled = gg.compile(step)
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        for i in range(3):
            compiled(gg.tensor([i, i + 1]))
    assert compiled.stats["replay"] == 0


@pytest.mark.cuda
def test_cuda_graph_reads_new_arguments_and_recaptures_replaced_parameters():
    gg.cuda.is_available()
    lin = nn.Linear(3, 2).cuda()
    opt = gg.optim.SGD(lin.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (lin(x) ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    def run(compiled, swap_at=None):
        gg.manual_seed(0)
        with gg.no_grad():
            lin.weight.copy_(gg.ones(2, 3).cuda())
            lin.bias.zero_()
        f = gg.compile(step, cuda_graphs=True) if compiled else step
        out = []
        for i in range(6):
            if i == swap_at:  # a new array behind the same parameter
                lin.weight.data = gg.full((2, 3), 0.5).cuda()
            out.append(f(gg.full((4, 3), float(i)).cuda() / 7).item())
        return out, f
    for swap in (None, 4):
        want, _ = run(False, swap)
        got, f = run(True, swap)
        assert got == want
        assert f.stats["cuda_graphs"] == 1


@pytest.mark.cuda
def test_cuda_graph_outputs_are_copies_and_unsupported_work_falls_back():
    gg.cuda.is_available()
    w = gg.nn.Parameter(gg.ones(3).cuda())

    @gg.compile
    def f(x):
        w.grad = None
        y = (w * x).sum()
        y.backward()
        return y, w.grad
    outs = [f(gg.full((3,), float(i)).cuda()) for i in range(4)]
    assert [o[0].item() for o in outs] == [0.0, 3.0, 6.0, 9.0]  # earlier outputs kept
    assert f.stats["cuda_graphs"] == 1
    graph = next(iter(f._variants.values())).plan.graph
    assert graph.failed is None

    import cupy
    import gpugrad.jit.graphs as graphs

    class Broken(graphs.CudaGraph):
        def _capture(self, slots):
            raise cupy.cuda.runtime.CUDARuntimeError(900, "operation not permitted when "
                                                          "stream is capturing")
    graph.__class__, graph.graph = Broken, None
    assert f(gg.full((3,), 5.0).cuda())[0].item() == 15.0  # ran without the graph
    assert "not permitted" in graph.failed
    assert f(gg.full((3,), 1.0).cuda())[0].item() == 3.0


def test_a_grad_scaler_step_runs_eagerly_with_the_current_scale():
    def run(compiled):
        w = gg.nn.Parameter(gg.tensor([1.0, -2.0]))
        opt = gg.optim.SGD([w], lr=0.1)
        # The scale is the same in the two traced calls and doubles later.
        scaler = gg.amp.GradScaler("cpu", init_scale=4.0, growth_interval=3)

        def step(x):
            opt.zero_grad()
            loss = (w * x).sum() ** 2
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss
        f = gg.compile(step) if compiled else step
        return [f(gg.tensor([0.5, float(i)])).item() for i in range(7)], scaler.get_scale()
    with pytest.warns(RuntimeWarning, match="GradScaler"):
        assert run(True) == run(False)


def test_keywords_and_defaults_are_torch_compiles():
    torch = pytest.importorskip("torch")
    import inspect
    ours = inspect.signature(gg.compile).parameters
    theirs = inspect.signature(torch.compile).parameters
    for name in ("model", "fullgraph", "dynamic", "mode", "disable"):
        assert ours[name].default == theirs[name].default, name
        assert ours[name].kind == theirs[name].kind, name
    for compile_ in (gg.compile, torch.compile):  # the same error for an unknown mode
        with pytest.raises(RuntimeError, match="mode"):
            compile_(lambda x: x, mode="fastest")
