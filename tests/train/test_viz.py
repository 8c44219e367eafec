"""``gg.viz.graph``: the autograd graph's nodes, shapes and dtypes (checked against the real
intermediate tensors), DOT text, PNG rendering and the GraphDef TensorBoard reads."""
import sys

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.viz import graph, has_graphviz


def test_the_course_example_graph():
    a = gg.tensor(2.0, requires_grad=True)
    b = gg.tensor(1.0, requires_grad=True)
    f = (a + b) * (b + 1)
    g = graph(f, params={"a": a, "b": b})
    assert [(n.name, n.op, n.inputs) for n in g.nodes] == [
        ("a", "Parameter", ()), ("b", "Parameter", ()), ("Add", "Add", ("a", "b")),
        ("Add_1", "Add", ("b",)), ("Mul", "Mul", ("Add", "Add_1"))]
    assert g.output.name == "Mul" and len(g) == 5
    assert repr(g) == "AutogradGraph(3 ops, 2 leaves)"


def _mixed_graph():
    """A graph with casts both ways, broadcasting and a diamond (c feeds Exp and Add); the
    intermediate tensors by the names graph() gives their nodes."""
    x = gg.tensor(np.arange(3.0).reshape(3, 1), dtype=gg.float64, requires_grad=True)
    w = gg.tensor(np.ones((1, 4)), dtype=gg.float32, requires_grad=True)
    a = x.float()
    b = a * w
    c = b.double()
    d = c.exp()
    e = d + c
    f = e.sum()
    return f, {"x": x, "w": w}, {"Cast": a, "Mul": b, "Cast_1": c, "Exp": d, "Add": e,
                                 "Sum": f}


@pytest.mark.parametrize("after_backward", [False, True])
def test_shapes_and_dtypes_are_those_of_the_real_tensors(after_backward):
    f, params, tensors = _mixed_graph()
    if after_backward:
        f.backward()  # frees the saved tensors: the dtypes must still come out right
    g = graph(f, params)
    got = {n.name: (n.shape, n.dtype) for n in g.nodes}
    expected = {name: (t.shape, t.dtype) for name, t in {**params, **tensors}.items()}
    assert got == expected
    assert {n.name: n.inputs for n in g.nodes}["Add"] == ("Exp", "Cast_1")


def test_names_for_modules_unnamed_leaves_and_clashes():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    extra = gg.ones(2, requires_grad=True)
    out = (model(gg.ones(5, 3)) * extra).sum() + gg.ones((), requires_grad=True)
    g = graph(out, model)
    names = [n.name for n in g.nodes]
    assert names[:4] == ["0.weight", "0.bias", "Linear", "Relu"]
    assert {"leaf", "leaf_1"} <= set(names)
    assert {n.name: n.op for n in g.nodes}["leaf"] == "Leaf"
    clash = gg.ones(2, requires_grad=True)
    g = graph(clash + clash, params={"Add": clash})  # a parameter named like an op
    assert [(n.name, n.op) for n in g.nodes] == [("Add", "Parameter"), ("Add_1", "Add")]


def test_a_leaf_alone_and_bad_arguments():
    leaf = gg.ones(2, 3, requires_grad=True)
    g = graph(leaf, {"w": leaf})
    assert [(n.name, n.op, n.shape) for n in g.nodes] == [("w", "Parameter", (2, 3))]
    with pytest.raises(ValueError, match="does not require grad"):
        graph(gg.ones(2))
    with gg.no_grad():
        with pytest.raises(ValueError, match="no_grad"):
            graph(leaf * 2)
    with pytest.raises(TypeError, match="Tensor"):
        graph(np.ones(2))


def test_a_deep_chain_needs_no_recursion():
    x = gg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    g = graph(y)
    assert len(g) == 5001 and g.nodes[0].op == "Leaf"
    assert g.nodes[-1].name == "Mul_4999"


def test_dot_text(tmp_path):
    f, params, _ = _mixed_graph()
    dot = graph(f, params).to_dot()
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    assert '"x" [label="x\\n(3, 1) float64", shape=box' in dot
    assert '"Cast_1" [label="Cast_1 (Cast)\\n(3, 4) float64"' in dot
    assert '"Exp" -> "Add";' in dot and '"Cast_1" -> "Add";' in dot
    assert '"Sum" [label="Sum\\n() float64", shape=ellipse, style=filled' in dot
    path = graph(f, params).save(str(tmp_path / "sub" / "g.dot"))
    assert open(path).read() == dot
    quoted = gg.ones(1, requires_grad=True)
    dot = graph(quoted, {'we"ird': quoted}).to_dot()
    assert '"we\\"ird" [label="we\\"ird\\n(1,) float32"' in dot


@pytest.mark.skipif(not has_graphviz(), reason="needs the graphviz package and dot")
def test_png_rendering(tmp_path):
    f, params, _ = _mixed_graph()
    path = graph(f, params).save(str(tmp_path / "g.png"))
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_png_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    f, params, _ = _mixed_graph()
    g = graph(f, params)
    monkeypatch.setitem(sys.modules, "graphviz", None)
    assert not has_graphviz()
    with pytest.raises(ImportError, match="graphviz package"):
        g.save(str(tmp_path / "g.png"))


def test_png_without_the_dot_program(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    g = graph(_mixed_graph()[0])
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    assert not has_graphviz()
    with pytest.raises(RuntimeError, match="dot program"):
        g.save(str(tmp_path / "g.png"))


def test_graph_def_as_tensorboard_reads_it(tmp_path):
    pytest.importorskip("tensorboardX")
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from tensorboardX.proto.types_pb2 import DataType
    f, params, tensors = _mixed_graph()
    g = graph(f, params)
    g.to_tensorboard(str(tmp_path))
    acc = ea.EventAccumulator(str(tmp_path))
    acc.Reload()
    nodes = {node.name: node for node in acc.Graph().node}
    assert {name: node.op for name, node in nodes.items()} == {
        "x": "Parameter", "w": "Parameter", "Cast": "Cast", "Mul": "Mul", "Cast_1": "Cast",
        "Exp": "Exp", "Add": "Add", "Sum": "Sum"}
    assert list(nodes["Mul"].input) == ["Cast", "w"]
    for name, t in {**params, **tensors}.items():
        dims = [d.size for d in nodes[name].attr["_output_shapes"].list.shape[0].dim]
        assert tuple(dims) == t.shape, name
        want = "DT_DOUBLE" if t.dtype == gg.float64 else "DT_FLOAT"
        assert nodes[name].attr["dtype"].type == DataType.Value(want), name


def test_loss_graph_of_an_mlp():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = gg.randn(5, 4), gg.tensor([0, 1, 2, 0, 1])
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    g = graph(loss, model)
    by_name = {n.name: n for n in g.nodes}
    assert by_name["Linear_1"].shape == logits.shape == (5, 3)
    assert by_name["Linear_1"].inputs == ("Relu", "2.weight", "2.bias")
    assert g.output.shape == () and g.output.dtype == gg.float32
    assert "SoftmaxCrossEntropy" in by_name
