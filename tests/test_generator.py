"""gg.Generator: its own stream for the random factories, nn.init and data loading, as
torch.Generator (the numbers themselves differ from PyTorch's: other algorithms)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.utils.data import DataLoader, RandomSampler, random_split


def _draws(device):
    """(name, fn(generator)) for every random factory that takes ``generator=``."""
    probs = gg.tensor([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]], device=device)
    half = gg.full((50,), 0.5, device=device)
    like = gg.zeros(3, 4, device=device)
    return [
        ("rand", lambda g: gg.rand(3, 4, generator=g, device=device)),
        ("randn", lambda g: gg.randn(5, generator=g, device=device, dtype=gg.float64)),
        ("randint", lambda g: gg.randint(0, 100, (6,), generator=g, device=device)),
        ("randperm", lambda g: gg.randperm(10, generator=g, device=device)),
        ("normal_numbers", lambda g: gg.normal(1.0, 2.0, (4,), generator=g, device=device)),
        ("normal_tensors", lambda g: gg.normal(like, 1.0, generator=g)),
        ("bernoulli", lambda g: gg.bernoulli(half, generator=g)),
        ("multinomial", lambda g: gg.multinomial(probs, 2, generator=g)),
        ("multinomial_repl", lambda g: gg.multinomial(probs, 5, True, generator=g)),
        ("rand_like", lambda g: gg.rand_like(like, generator=g)),
        ("randn_like", lambda g: gg.randn_like(like, generator=g)),
        ("randint_like", lambda g: gg.randint_like(like, 10, generator=g)),
        ("normal_", lambda g: gg.zeros(5, device=device).normal_(0, 1, generator=g)),
        ("uniform_", lambda g: gg.zeros(5, device=device).uniform_(-1, 1, generator=g)),
    ]


def _values(t):
    return t.cpu().numpy().tolist()


@pytest.mark.parametrize("case", range(14))
def test_same_seed_same_numbers_and_global_untouched(device, case):
    name, draw = _draws(device)[case]
    g1 = gg.Generator(device=device).manual_seed(1234)
    g2 = gg.Generator(device=device).manual_seed(1234)
    gg.manual_seed(7)
    expected_global = _values(gg.rand(8, device=device))
    gg.manual_seed(7)
    first = [_values(draw(g1)) for _ in range(2)]
    assert [_values(draw(g2)) for _ in range(2)] == first, name
    if name not in ("bernoulli", "multinomial") or device == "cpu":
        assert first[0] != first[1], name  # the stream moves on
    # drawing from the Generators left the global generator where manual_seed put it
    assert _values(gg.rand(8, device=device)) == expected_global, name
    g3 = gg.Generator(device=device).manual_seed(99)
    if name not in ("multinomial",):
        assert _values(draw(g3)) != first[0], name


def test_global_state_is_unchanged_by_generator_draws():
    state = gg.get_rng_state()
    g = gg.Generator().manual_seed(0)
    for _, draw in _draws("cpu"):
        draw(g)
    assert gg.get_rng_state() == state


def test_seeds_and_state():
    g = gg.Generator()
    assert g.initial_seed() == 67280421310721  # PyTorch's default for a new Generator
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1  # wraps as in PyTorch
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    a = gg.rand(4, generator=g)
    assert gg.rand(4, generator=gg.Generator().manual_seed(s)).tolist() == a.tolist()
    state = g.get_state()
    assert state.dtype is gg.uint8 and state.ndim == 1
    x = gg.randn(6, generator=g).tolist()
    assert gg.randn(6, generator=g.set_state(state)).tolist() == x
    other = gg.Generator().set_state(state)  # a state moves between Generators
    assert gg.randn(6, generator=other).tolist() == x and other.initial_seed() == s
    assert gg.randn(6, generator=gg.Generator().set_state(bytes(state.numpy()))).tolist() == x
    assert g.device == gg.device("cpu") and "cpu" in repr(g)


def test_bad_seeds_states_and_generators():
    g = gg.Generator()
    for bad in (1.5, "3", None, True):
        with pytest.raises(RuntimeError, match="manual_seed expected a long"):
            g.manual_seed(bad)
    with pytest.raises(TypeError):
        g.set_state(gg.zeros(3))
    with pytest.raises(TypeError):
        g.set_state([1, 2])
    with pytest.raises(RuntimeError):
        g.set_state(gg.zeros(3, dtype=gg.uint8))
    for fn in (lambda: gg.rand(2, generator=3),
               lambda: gg.randperm(3, generator=np.random.default_rng(0)),
               lambda: gg.bernoulli(gg.ones(2), generator="g")):
        with pytest.raises(TypeError, match="gpugrad.Generator"):
            fn()


def test_a_generator_must_be_on_the_tensors_device(device):
    if device == "cpu":
        pytest.skip("needs a second device type")
    with pytest.raises(RuntimeError, match="generator"):
        gg.rand(2, device=device, generator=gg.Generator())
    with pytest.raises(RuntimeError, match="generator"):
        gg.bernoulli(gg.ones(2), generator=gg.Generator(device=device))
    cuda_gen = gg.Generator(device=device).manual_seed(3)
    assert gg.Generator(device=device).device == gg.device(device)
    with pytest.raises(RuntimeError, match="CUDA generators"):
        cuda_gen.get_state()
    with pytest.raises(RuntimeError, match="CUDA generators"):
        cuda_gen.set_state(gg.Generator().get_state())
    with pytest.raises(RuntimeError, match="'cpu' device type"):
        random_split(range(4), [2, 2], generator=cuda_gen)


INITS = ["uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
         "kaiming_normal_", "trunc_normal_", "orthogonal_"]


@pytest.mark.parametrize("name", INITS)
def test_nn_init_takes_a_generator(device, name):
    fn = getattr(gg.nn.init, name)
    state = gg.get_rng_state()
    a = fn(gg.empty(4, 6, device=device), generator=gg.Generator(device=device).manual_seed(3))
    b = fn(gg.empty(4, 6, device=device), generator=gg.Generator(device=device).manual_seed(3))
    c = fn(gg.empty(4, 6, device=device), generator=gg.Generator(device=device).manual_seed(4))
    assert _values(a) == _values(b) and _values(a) != _values(c)
    assert gg.get_rng_state() == state


def test_nn_init_signatures_match_torch():
    torch = pytest.importorskip("torch")
    import inspect
    for name in INITS:
        ours = inspect.signature(getattr(gg.nn.init, name)).parameters
        theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
        assert list(ours) == list(theirs), name
        assert ours["generator"].default is None


def test_data_utilities_take_a_generator():
    def gen():
        return gg.Generator().manual_seed(11)
    split = [list(p) for p in random_split(range(10), [0.5, 0.5], generator=gen())]
    assert split == [list(p) for p in random_split(range(10), [0.5, 0.5], generator=gen())]
    assert sorted(split[0] + split[1]) == list(range(10))
    order = list(RandomSampler(range(10), generator=gen()))
    assert order == list(RandomSampler(range(10), generator=gen())) and sorted(order) == \
        list(range(10))
    assert len(list(RandomSampler(range(10), True, 25, generator=gen()))) == 25

    def batches(g):
        return [b.tolist() for b in DataLoader(list(range(12)), batch_size=4, shuffle=True,
                                               generator=g)]
    assert batches(gen()) == batches(gen()) and batches(gen()) != batches(
        gg.Generator().manual_seed(12))
    # a NumPy Generator still works
    assert len(random_split(range(4), [1, 3], generator=np.random.default_rng(0))[1]) == 3
