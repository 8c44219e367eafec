"""The autograd graph as a picture: ``gg.viz.graph(tensor)`` walks the graph that produced
``tensor`` (every op with its output's shape and dtype, every leaf that requires grad) and
writes it as Graphviz DOT text, as a PNG (with the optional ``graphviz`` package and its
``dot`` program) or as a GraphDef for TensorBoard's GRAPHS tab: the graph the backprop
lectures draw, with the data flowing from the parameters to the loss.

>>> import gpugrad as gg
>>> a, b = gg.tensor(2.0, requires_grad=True), gg.tensor(1.0, requires_grad=True)
>>> g = graph((a + b) * (b + 1), params={"a": a, "b": b})
>>> for node in g.nodes:
...     print(node.name, node.op, node.inputs, node.shape, node.dtype)
a Parameter () () gpugrad.float32
b Parameter () () gpugrad.float32
Add Add ('a', 'b') () gpugrad.float32
Add_1 Add ('b',) () gpugrad.float32
Mul Mul ('Add', 'Add_1') () gpugrad.float32
"""
import os
import shutil
from dataclasses import dataclass

from .autograd.function import Function
from .dtypes import as_dtype
from .ops.shape import Cast
from .tensor import Tensor

__all__ = ["AutogradGraph", "GraphNode", "graph", "has_graphviz"]


@dataclass(frozen=True)
class GraphNode:
    """One node: an op (``op`` is its class name, e.g. ``"MatMul"``) or a leaf (``op`` is
    ``"Parameter"`` for a named parameter, ``"Leaf"`` otherwise). ``shape`` and ``dtype``
    describe its output; ``dtype`` is None where the graph does not tell it.

    >>> import gpugrad as gg
    >>> w = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> node = gg.viz.graph(w.exp().sum(), {'w': w}).nodes[0]
    >>> node.name, node.op, node.shape
    ('w', 'Parameter', (2,))
    """

    name: str
    op: str
    inputs: tuple
    shape: tuple
    dtype: object


class AutogradGraph:
    """The nodes of one autograd graph, inputs before the ops that use them; the last node
    produced the tensor that was drawn. See ``graph``.

    >>> import gpugrad as gg
    >>> w = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> g = gg.viz.graph((w * w).sum(), {'w': w})
    >>> g
    AutogradGraph(2 ops, 1 leaves)
    >>> [n.name for n in g.nodes], g.output.op
    (['w', 'Mul', 'Sum'], 'Sum')
    """

    def __init__(self, nodes):
        self.nodes = list(nodes)

    @property
    def output(self):
        """The node that produced the drawn tensor."""
        return self.nodes[-1]

    def __len__(self):
        return len(self.nodes)

    def __repr__(self):
        ops = sum(node.op not in ("Parameter", "Leaf") for node in self.nodes)
        return f"AutogradGraph({ops} ops, {len(self.nodes) - ops} leaves)"

    def to_dot(self):
        """Graphviz DOT text (no dependency needed): leaves as boxes, ops as ellipses, each
        labelled with its output's shape and dtype; the output node is filled."""
        lines = ["digraph autograd {", '  node [fontname="Helvetica", fontsize=11];']
        for node in self.nodes:
            title = node.name
            if node.op not in (node.name, "Parameter", "Leaf"):
                title = f"{node.name} ({node.op})"
            details = f"{_shape_text(node.shape)} {_dtype_name(node.dtype)}"
            label = _quote(title) + "\\n" + details  # \n: a line break inside a DOT label
            if node.op in ("Parameter", "Leaf"):
                style = 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"'
            elif node is self.output:
                style = 'shape=ellipse, style=filled, fillcolor="#f6d9b8"'
            else:
                style = "shape=ellipse"
            lines.append(f'  "{_quote(node.name)}" [label="{label}", {style}];')
        for node in self.nodes:
            for source in node.inputs:
                lines.append(f'  "{_quote(source)}" -> "{_quote(node.name)}";')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_graph_def(self):
        """The graph as a TensorFlow ``GraphDef`` (tensorboardX's protobufs), which
        TensorBoard's GRAPHS tab reads: each node's op, inputs, ``dtype`` and
        ``_output_shapes`` (shown on the edges)."""
        from tensorboardX.proto.attr_value_pb2 import AttrValue
        from tensorboardX.proto.graph_pb2 import GraphDef
        from tensorboardX.proto.node_def_pb2 import NodeDef
        from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboardX.proto.versions_pb2 import VersionDef

        nodes = []
        for node in self.nodes:
            shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in node.shape])
            attr = {"_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[shape]))}
            if node.dtype is not None:
                attr["dtype"] = AttrValue(type=_tf_dtype(node.dtype))
            nodes.append(NodeDef(name=node.name, op=node.op, input=list(node.inputs),
                                 attr=attr))
        return GraphDef(node=nodes, versions=VersionDef(producer=22))

    def save(self, path):
        """Write the graph to ``path``: ``.dot`` as DOT text; ``.png``, ``.svg`` or ``.pdf``
        rendered by Graphviz (needs the ``graphviz`` package and its ``dot`` program, see
        ``has_graphviz``). Returns ``path``."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fmt = os.path.splitext(path)[1].lstrip(".").lower()
        if fmt == "dot":
            with open(path, "w") as f:
                f.write(self.to_dot())
            return path
        try:
            import graphviz
        except ImportError:
            raise ImportError(f"rendering a graph as .{fmt} needs the graphviz package and "
                              "Graphviz's dot program (pip install graphviz; apt-get install "
                              "graphviz); save as .dot for the text alone") from None
        try:
            data = graphviz.Source(self.to_dot()).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise RuntimeError("Graphviz's dot program is not on PATH (apt-get install "
                               "graphviz, or brew install graphviz)") from None
        with open(path, "wb") as f:
            f.write(data)
        return path

    def to_tensorboard(self, log_dir):
        """Write the graph into an event file in ``log_dir``, for ``tensorboard --logdir``
        (tensorboardX needed). Returns ``log_dir``."""
        from .train.tensorboard import TensorBoardLogger
        logger = TensorBoardLogger(log_dir)
        logger.graph(self, run="")
        logger.close()
        return log_dir


def graph(tensor, params=None):
    """The autograd graph that produced ``tensor``, as an ``AutogradGraph``.

    ``params`` names the leaves: a dict ``name -> tensor`` or a Module (its
    ``named_parameters()``). Other leaves that require grad are named ``leaf``, ``leaf_1``,
    ...; ops are named after their class (``Linear``, ``Linear_1``, ...). Inputs that do not
    require grad (the data, the targets) are not part of the graph. Draw before
    ``backward()``, or after one with ``retain_graph=True``: some dtypes are read from the
    saved tensors that backward frees.

    >>> import gpugrad as gg
    >>> import gpugrad.nn as nn
    >>> model = nn.Linear(3, 2)
    >>> loss = model(gg.ones(4, 3)).relu().sum()
    >>> g = graph(loss, model)
    >>> [(n.name, n.shape, n.dtype) for n in g.nodes[-2:]]
    [('Relu', (4, 2), gpugrad.float32), ('Sum', (), gpugrad.float32)]
    >>> g.to_dot().splitlines()[0]
    'digraph autograd {'
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph() takes a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise ValueError("the tensor has no autograd graph: it does not require grad (was it "
                         "computed under no_grad, or from inputs without requires_grad?)")
    root = tensor.grad_fn if tensor.grad_fn is not None else tensor
    order = _topological(root)
    names = _names(order, params)
    shapes = {id(root): tuple(tensor.shape)}
    for item in order:
        if isinstance(item, Function):
            for source, shape in zip(item.next, item.input_shapes):
                if source is not None:
                    shapes[id(source)] = tuple(shape)
        else:
            shapes[id(item)] = tuple(item.shape)
    dtypes = _dtypes(order, root, tensor.dtype)
    nodes = []
    for item in order:
        key = id(item)
        if isinstance(item, Function):
            op = item.name()
            inputs = tuple(names[id(s)] for s in item.next if s is not None)
        else:
            op = "Parameter" if key in names.named else "Leaf"
            inputs = ()
        nodes.append(GraphNode(names[key], op, inputs, shapes[key], dtypes.get(key)))
    return AutogradGraph(nodes)


def has_graphviz():
    """Can ``AutogradGraph.save`` render PNGs here (the ``graphviz`` package and the ``dot``
    program both present)?

    >>> isinstance(has_graphviz(), bool)
    True
    """
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def _topological(root):
    """Every node and leaf reachable from ``root``, inputs before their consumers: an
    iterative depth-first walk (no recursion limit), each item visited once."""
    order, expanded = [], set()
    stack = [(root, False)]
    while stack:
        item, finished = stack.pop()
        if finished:
            order.append(item)
            continue
        if id(item) in expanded:
            continue
        expanded.add(id(item))
        stack.append((item, True))
        if isinstance(item, Function):
            for source in reversed(item.next):
                if source is not None and id(source) not in expanded:
                    stack.append((source, False))
    return order


class _Names(dict):
    """id(node or leaf) -> unique name; ``named`` holds the leaves named by ``params``."""

    def __init__(self):
        super().__init__()
        self.named = set()
        self._taken = set()
        self._count = {}  # base -> next suffix to try, so naming n nodes costs O(n)

    def add(self, key, base):
        n = self._count.get(base, 0)
        name = f"{base}_{n}" if n else base
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._count[base] = n + 1
        self._taken.add(name)
        self[key] = name


def _names(order, params):
    if params is not None and hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    by_id = {id(t): name for name, t in (params or {}).items()}
    names = _Names()
    for item in order:  # named leaves first, so an op never takes a parameter's name
        if not isinstance(item, Function) and id(item) in by_id:
            names.add(id(item), by_id[id(item)])
            names.named.add(id(item))
    for item in order:
        if id(item) not in names:
            names.add(id(item), item.name() if isinstance(item, Function) else "leaf")
    return names


def _dtypes(order, root, root_dtype):
    """id -> output dtype. Nodes do not store theirs, so it is read where the graph holds
    it (leaves, the drawn tensor, saved inputs and outputs, a Cast's input dtype) and
    spread: every op but Cast makes the dtype of the inputs it differentiates (mixed
    dtypes are cast before an op runs), so an op and its linked inputs share one dtype."""
    known = {id(root): root_dtype}
    parent = {}

    def find(key):
        while parent.get(key, key) != key:
            parent[key] = parent.get(parent[key], parent[key])  # path halving: near O(1)
            key = parent[key]
        return key

    for item in order:
        if not isinstance(item, Function):
            known[id(item)] = item.dtype
            continue
        saved = item._saved or ()  # None once backward freed it
        if item.saves_output and saved:
            known[id(item)] = saved[-1].dtype
        for slot, index in enumerate(item.saves_inputs):
            source = item.next[index]
            if source is not None and slot < len(saved):
                known[id(source)] = saved[slot].dtype
        if isinstance(item, Cast):
            in_dtype = getattr(item, "in_dtype", None)
            if in_dtype is not None and item.next[0] is not None:
                known[id(item.next[0])] = in_dtype
            continue
        for source in item.next:
            if source is not None:
                parent[find(id(source))] = find(id(item))
    by_class = {}
    for key, dtype in known.items():
        by_class.setdefault(find(key), dtype)
    dtypes = {}
    for item in order:
        key = id(item)
        dtype = known.get(key, by_class.get(find(key)))
        if dtype is not None:  # saved arrays give NumPy dtypes: print them all as gg's
            dtypes[key] = as_dtype(dtype)
    return dtypes


def _shape_text(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _dtype_name(dtype):
    return "?" if dtype is None else getattr(dtype, "name", str(dtype))


def _quote(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


_TF_DTYPES = {"float16": "DT_HALF", "float32": "DT_FLOAT", "float64": "DT_DOUBLE",
              "bfloat16": "DT_BFLOAT16", "int8": "DT_INT8", "int16": "DT_INT16",
              "int32": "DT_INT32", "int64": "DT_INT64", "uint8": "DT_UINT8", "bool": "DT_BOOL"}


def _tf_dtype(dtype):
    from tensorboardX.proto.types_pb2 import DataType
    return DataType.Value(_TF_DTYPES.get(_dtype_name(dtype), "DT_INVALID"))
