"""dtype objects (printing, equality, hashing, NumPy interop), the 8- and 16-bit integer
dtypes, and bfloat16 on the CPU, all checked against PyTorch."""
import copy
import pickle
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.dtypes import as_dtype

torch = pytest.importorskip("torch")

# PyTorch's dtype names (and aliases) that gpugrad has, with the dtype each means.
NAMES = {"bool": "bool", "uint8": "uint8", "int8": "int8", "int16": "int16",
         "short": "int16", "int32": "int32", "int": "int32", "int64": "int64",
         "long": "int64", "float16": "float16", "half": "float16", "bfloat16": "bfloat16",
         "float32": "float32", "float": "float32", "float64": "float64", "double": "float64"}
CANONICAL = sorted(set(NAMES.values()))
INTEGERS = ["uint8", "int8", "int16", "int32", "int64"]


def _bf16():
    return pytest.importorskip("ml_dtypes")


def _bits(t):
    """The bfloat16 bit patterns of a gpugrad or torch bfloat16 tensor, as int16."""
    if isinstance(t, torch.Tensor):
        return t.view(torch.int16).numpy()
    return t.numpy().view(np.int16)


# ---- the objects ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(NAMES))
def test_names_print_and_alias_as_torch(name):
    ours, theirs = getattr(gg, name), getattr(torch, name)
    assert repr(ours) == str(ours) == str(theirs).replace("torch.", "gpugrad.")
    assert ours is getattr(gg, NAMES[name])  # an alias is the same object


@pytest.mark.parametrize("name", CANONICAL)
def test_properties_match_torch(name):
    ours, theirs = getattr(gg, name), getattr(torch, name)
    assert ours.is_floating_point == theirs.is_floating_point
    assert ours.is_complex == theirs.is_complex
    assert ours.is_signed == theirs.is_signed
    assert ours.itemsize == theirs.itemsize
    assert isinstance(ours, gg.dtype)


@pytest.mark.parametrize("name", [n for n in CANONICAL if n != "bfloat16"])
def test_equal_and_hash_as_the_numpy_dtype(name):
    d, nd = getattr(gg, name), np.dtype(name)
    assert d == nd and nd == d and d == nd.type and nd.type == d and not d != nd
    assert hash(d) == hash(nd)
    assert {nd: 1}[d] == 1 and {d: 2}[nd] == 2 and d in {nd} and nd in {d}
    assert (d.kind, d.itemsize, d.name, d.char, d.type) == (nd.kind, nd.itemsize, nd.name,
                                                            nd.char, nd.type)
    assert np.dtype(d) == nd and np.zeros(2, dtype=d).dtype == nd
    assert np.ones(2).astype(d).dtype == nd and np.asarray([1], dtype=d).dtype == nd
    others = [getattr(gg, n) for n in CANONICAL if n != name]
    assert all(d != o and o != d for o in others)
    assert d != name and d != None and d != 1  # noqa: E711  (PyTorch: not equal to strings)


def test_python_types_compare_as_numpy_does():
    assert gg.float64 == float and gg.int64 == int and gg.bool == bool
    assert gg.float32 != float and gg.int32 != int


@pytest.mark.parametrize("name", CANONICAL)
def test_one_object_per_dtype(name):
    d = getattr(gg, name)
    assert pickle.loads(pickle.dumps(d)) is d and copy.deepcopy(d) is d and copy.copy(d) is d
    assert as_dtype(name) is d and as_dtype(d) is d
    if name != "bfloat16":
        assert as_dtype(np.dtype(name)) is d and as_dtype(np.dtype(name).type) is d


@pytest.mark.parametrize("spec, name", [
    ("float", "float32"), ("double", "float64"), ("half", "float16"), ("int", "int32"),
    ("long", "int64"), ("short", "int16"), ("torch.float16", "float16"),
    ("gpugrad.int8", "int8"), (float, "float64"), (int, "int64"), (bool, "bool"),
    (np.uint8, "uint8"), ("f4", "float32")])
def test_spellings(spec, name):
    assert as_dtype(spec) is getattr(gg, name)
    assert gg.zeros(1, dtype=spec).dtype is getattr(gg, name)


@pytest.mark.parametrize("spec", ["complex64", np.complex128, np.uint16, "nonsense", object])
def test_unsupported_dtypes_are_type_errors(spec):
    with pytest.raises(TypeError):
        gg.zeros(2, dtype=spec)


def test_tensor_dtype_and_default():
    x = gg.tensor([1.5])
    assert x.dtype is gg.float32 and repr(x.dtype) == "gpugrad.float32"
    assert gg.get_default_dtype() is gg.float32
    gg.set_default_dtype(np.float64)
    try:
        assert gg.get_default_dtype() is gg.float64 and gg.tensor([1.5]).dtype is gg.float64
    finally:
        gg.set_default_dtype("float32")
    for bad in (gg.int32, "int64", gg.uint8):
        with pytest.raises(TypeError):
            gg.set_default_dtype(bad)
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int32)


def test_bfloat16_as_the_default_dtype():
    _bf16()
    gg.set_default_dtype(gg.bfloat16)  # PyTorch allows it
    try:
        assert gg.tensor([1.5]).dtype is gg.bfloat16 and gg.zeros(2).dtype is gg.bfloat16
        assert (gg.tensor([1, 2]) / 2).dtype is gg.bfloat16
    finally:
        gg.set_default_dtype(gg.float32)


@pytest.mark.parametrize("name", CANONICAL)
def test_repr_and_type_name_as_torch(name):
    if name == "bfloat16":
        _bf16()
    values = [0, 1, 1] if name == "bool" else [1, 2, 3]
    ours = repr(gg.tensor(values).to(getattr(gg, name)))
    theirs = repr(torch.tensor(values).to(getattr(torch, name)))
    assert ours == theirs.replace("torch.", "gpugrad.")
    assert gg.zeros(1, dtype=getattr(gg, name)).type() == \
        torch.zeros(1, dtype=getattr(torch, name)).type().replace("torch.", "gpugrad.")


def test_to_accepts_every_spelling_and_another_tensor():
    x = gg.tensor([1.7, -1.2])
    for spec in (gg.int16, "int16", "short", np.int16, np.dtype(np.int16)):
        assert x.to(spec).dtype is gg.int16 and x.to("cpu", spec).dtype is gg.int16
        assert x.to(dtype=spec).tolist() == [1, -1]
    assert x.to(gg.zeros(1, dtype=gg.uint8)).dtype is gg.uint8
    assert x.to(x) is x and x.to(gg.float32) is x
    assert x.short().dtype is gg.int16 and x.byte().dtype is gg.uint8
    assert x.type(gg.int8).dtype is gg.int8 and x.type("torch.ShortTensor").dtype is gg.int16


def test_factories_keep_the_dtype_object():
    assert gg.randint(0, 5, (3,), dtype=gg.uint8).dtype is gg.uint8
    assert gg.arange(3, dtype="int8").dtype is gg.int8
    assert gg.full((2,), 7, dtype=gg.int16).dtype is gg.int16
    assert gg.zeros_like(gg.zeros(2, dtype=gg.uint8)).dtype is gg.uint8
    assert gg.from_numpy(np.zeros(2, np.uint8)).dtype is gg.uint8
    assert gg.tensor(np.zeros(2, np.int8)).dtype is gg.int8


# ---- 8- and 16-bit integers -------------------------------------------------------------
_PAIRS = [("uint8", "uint8"), ("uint8", "int8"), ("int8", "int16"), ("uint8", "int64"),
          ("int16", "int32"), ("uint8", "float32"), ("int8", "bool"), ("int16", "float16")]


@pytest.mark.parametrize("da, db", _PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "maximum", "eq", "lt"])
def test_integer_arithmetic_and_promotion_match_torch(device, da, db, op):
    a = np.array([[3, 7, 100], [0, 5, 120]])
    b = np.array([[2, 9, 1], [1, 5, 3]])
    if db == "bool":
        b = b % 2
    ta, tb = torch.tensor(a).to(getattr(torch, da)), torch.tensor(b).to(getattr(torch, db))
    if op == "sub" and "bool" in (da, db):
        return  # PyTorch refuses bool subtraction
    ga = gg.tensor(a, device=device).to(getattr(gg, da))
    gb = gg.tensor(b, device=device).to(getattr(gg, db))
    want, got = getattr(torch, op)(ta, tb), getattr(gg, op)(ga, gb)
    assert got.dtype.name == str(want.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


@pytest.mark.parametrize("name", ["uint8", "int8", "int16"])
def test_small_integers_index_reduce_and_take_scalars(device, name):
    values = np.array([[1, 2, 3], [4, 5, 6]])
    t = torch.tensor(values).to(getattr(torch, name))
    g = gg.tensor(values, device=device).to(getattr(gg, name))
    idx = [1, 0]
    for ours, theirs in [(g[1], t[1]), (g[:, 1:], t[:, 1:]), (g[g > 2], t[t > 2]),
                         (g[gg.tensor(idx, device=device)], t[torch.tensor(idx)]),
                         (g * 2, t * 2), (g + 1.5, t + 1.5), (g.sum(), t.sum()),
                         (g.max(), t.max()), (g.T.contiguous(), t.T.contiguous()),
                         (gg.cat([g, g]), torch.cat([t, t])), (g.float(), t.float())]:
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.cpu().numpy(), theirs.numpy())
    g[0, 0] = 9
    assert g.tolist()[0][0] == 9 and g.dtype.name == name


def test_uint8_images_normalise_as_in_torch(device):
    img = np.random.default_rng(0).integers(0, 256, (2, 3, 4), dtype=np.uint8)
    ours = gg.tensor(img, device=device).float().div(255)
    theirs = torch.tensor(img).float().div(255)
    np.testing.assert_array_equal(ours.cpu().numpy(), theirs.numpy())


# ---- bfloat16 ---------------------------------------------------------------------------
def _special_floats():
    rng = np.random.default_rng(1)
    x = np.concatenate([
        rng.standard_normal(2000) * 10.0 ** rng.integers(-30, 30, 2000),
        # exact ties between two bfloat16 values (round half to even)
        (np.arange(1, 200, dtype=np.uint32) << 16 | 0x8000).view(np.float32),
        [0.0, -0.0, 1e-40, -1e-40, 3.4e38, -3.4e38, np.inf, -np.inf, 1.0, 1.00390625]])
    return x.astype(np.float32)


def test_float32_to_bfloat16_rounds_as_torch():
    _bf16()
    x = _special_floats()
    ours, theirs = gg.tensor(x).to(gg.bfloat16), torch.tensor(x).to(torch.bfloat16)
    assert ours.dtype is gg.bfloat16
    np.testing.assert_array_equal(_bits(ours), _bits(theirs))
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())
    # and back from float64, NaN stays NaN
    assert np.isnan(gg.tensor([np.nan]).to(gg.bfloat16).float().item())
    np.testing.assert_array_equal(_bits(gg.tensor(x.astype(np.float64)).bfloat16()),
                                  _bits(torch.tensor(x.astype(np.float64)).bfloat16()))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_bfloat16_arithmetic_rounds_as_torch(op):
    _bf16()
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 500)).astype(np.float32) * 7
    ga, gb = gg.tensor(a).bfloat16(), gg.tensor(b).bfloat16()
    ta, tb = torch.tensor(a).bfloat16(), torch.tensor(b).bfloat16()
    for ours, theirs in [(getattr(gg, op)(ga, gb), getattr(torch, op)(ta, tb)),
                         (getattr(gg, op)(ga, 3.0), getattr(torch, op)(ta, 3.0)),
                         (getattr(gg, op)(ga, 2), getattr(torch, op)(ta, 2))]:
        assert ours.dtype is gg.bfloat16 and theirs.dtype == torch.bfloat16
        np.testing.assert_array_equal(_bits(ours), _bits(theirs))


def test_bfloat16_promotion_matches_torch():
    _bf16()
    x = gg.ones(2, dtype=gg.bfloat16)
    t = torch.ones(2, dtype=torch.bfloat16)
    for other in ("float16", "float32", "float64", "int64", "uint8", "bool"):
        ours = x + gg.ones(2, dtype=getattr(gg, other))
        theirs = t + torch.ones(2, dtype=getattr(torch, other))
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), other


def test_bfloat16_unary_ops_within_one_rounding_of_torch():
    _bf16()
    x = np.linspace(-3, 3, 301, dtype=np.float32)
    # Ops that are one NumPy ufunc; composite ones (sigmoid, softmax) round each step.
    for name in ("exp", "tanh", "sin", "cos", "log1p", "abs", "neg", "sqrt"):
        arg = np.abs(x) if name in ("sqrt", "log1p") else x
        ours = getattr(gg, name)(gg.tensor(arg).bfloat16())
        theirs = getattr(torch, name)(torch.tensor(arg).bfloat16())
        assert ours.dtype is gg.bfloat16, name
        # both compute in float32 and round once; libm may differ in the last float32 bit
        np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(),
                                   rtol=2 ** -7, atol=1e-30, err_msg=name)


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_bfloat16_sum_and_mean_accumulate_in_float32_as_torch(dim):
    _bf16()
    x = np.random.default_rng(4).standard_normal((100, 300)).astype(np.float32)
    g, t = gg.tensor(x).bfloat16(), torch.tensor(x).bfloat16()
    for op in ("sum", "mean"):
        ours = getattr(g, op)() if dim is None else getattr(g, op)(dim)
        theirs = getattr(t, op)() if dim is None else getattr(t, op)(dim)
        assert ours.dtype is gg.bfloat16
        np.testing.assert_array_equal(_bits(ours), _bits(theirs), err_msg=op)


def test_bfloat16_matmul_is_a_rounded_float32_product():
    _bf16()
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 16, 32)).astype(np.float32)
    b = b.T.copy()
    ga, gb = gg.tensor(a).bfloat16(), gg.tensor(b).bfloat16()
    ta, tb = torch.tensor(a).bfloat16(), torch.tensor(b).bfloat16()
    ours = ga @ gb
    assert ours.dtype is gg.bfloat16 and ours.shape == (16, 16)
    exact = (ta.float() @ tb.float()).bfloat16()  # float32 accumulate, one rounding
    np.testing.assert_array_equal(_bits(ours), _bits(exact))
    np.testing.assert_allclose(ours.float().numpy(), (ta @ tb).float().numpy(), rtol=2 ** -7,
                               atol=1e-2)
    assert (ga @ gb[:, 0]).shape == (16,)  # the 1-d path too


def test_bfloat16_printing_numpy_and_grad():
    ml_dtypes = _bf16()
    x = gg.tensor([1.1, 2.3, 1e5, 1e-5]).bfloat16()
    t = torch.tensor([1.1, 2.3, 1e5, 1e-5]).bfloat16()
    assert repr(x) == repr(t).replace("torch.", "gpugrad.")
    assert x.numpy().dtype == np.dtype(ml_dtypes.bfloat16) and x.tolist() == t.tolist()
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    (w.bfloat16() * 3).sum().backward()
    assert w.grad.dtype is gg.float32 and w.grad.tolist() == [3.0, 3.0]
    assert gg.rand(3, dtype=gg.bfloat16).dtype is gg.bfloat16
    assert gg.randn(3, dtype="bfloat16").dtype is gg.bfloat16
    assert gg.nn.Linear(2, 3).to(gg.bfloat16)(gg.ones(1, 2, dtype=gg.bfloat16)).dtype \
        is gg.bfloat16


def test_bfloat16_safetensors_round_trip_with_torch(tmp_path):
    _bf16()
    from safetensors.torch import load_file, save_file
    t = torch.randn(3, 5).bfloat16()
    save_file({"w": t}, tmp_path / "torch.safetensors")
    loaded = gg.load(tmp_path / "torch.safetensors")["w"]
    assert loaded.dtype is gg.bfloat16
    np.testing.assert_array_equal(_bits(loaded), _bits(t))
    gg.save({"w": loaded * 2, "nested": [gg.ones(2).bfloat16()]}, tmp_path / "gg.safetensors")
    back = load_file(tmp_path / "gg.safetensors")
    w = [v for k, v in back.items() if v.shape == (3, 5)][0]
    assert w.dtype == torch.bfloat16 and torch.equal(w, t * 2)
    again = gg.load(tmp_path / "gg.safetensors")
    assert again["nested"][0].dtype is gg.bfloat16
    np.testing.assert_array_equal(_bits(again["w"]), _bits(t * 2))


def test_bfloat16_refused_on_cuda(device):
    _bf16()
    if device == "cpu":
        pytest.skip("a GPU-only refusal")
    with pytest.raises(TypeError, match="float16"):
        gg.zeros(2, dtype=gg.bfloat16, device=device)
    with pytest.raises(TypeError, match="float16"):
        gg.tensor([1.0], dtype=gg.bfloat16, device=device)
    with pytest.raises(TypeError, match="float16"):
        gg.ones(2).bfloat16().to(device)
    with pytest.raises(TypeError, match="float16"):
        gg.ones(2, device=device).to(gg.bfloat16)
    with pytest.raises(TypeError, match="float16"):
        gg.randn(2, dtype=gg.bfloat16, device=device)
    # the simulated CuPy refuses the dtype itself, as CuPy 13 does
    import cupy
    with pytest.raises((TypeError, ValueError)):
        cupy.zeros(2, dtype=gg.bfloat16)
    # float16 is the way: it works there
    assert gg.ones(2, device=device).half().dtype is gg.float16


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "float16"])
def test_dtype_objects_reach_the_device(device, name):
    d = getattr(gg, name)
    x = gg.ones(3, dtype=d, device=device)
    assert x.dtype is d and x.to(gg.float32).to(d).dtype is d
    np.testing.assert_array_equal((x + x).cpu().numpy(), np.full(3, 2, dtype=name))


def test_package_imports_and_explains_without_ml_dtypes():
    code = """
import sys
sys.modules["ml_dtypes"] = None  # as if not installed
import gpugrad as gg
assert repr(gg.bfloat16) == "gpugrad.bfloat16" and gg.bfloat16 != gg.float16
assert gg.bfloat16.itemsize == 2 and gg.bfloat16.is_floating_point
print(gg.ones(2) * 2)
try:
    gg.ones(2).bfloat16()
except ImportError as err:
    print("ImportError", err)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ImportError bfloat16 needs the ml_dtypes package" in out.stdout
