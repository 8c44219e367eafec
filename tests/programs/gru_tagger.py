"""A token tagger written the plain PyTorch way: ``import torch`` at the top and the model
class at module level. Loaded with ``sys.modules["torch"]`` pointing at gpugrad, the same
file trains on gpugrad.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD = 0


class Tagger(nn.Module):
    """Embedding -> bidirectional GRU over a packed batch -> Linear tag scores."""

    def __init__(self, ntoken=8, ninp=6, nhid=5, ntag=3):
        super().__init__()
        self.embedding = nn.Embedding(ntoken, ninp, padding_idx=PAD)
        self.gru = nn.GRU(ninp, nhid, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * nhid, ntag)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embedding(tokens), lengths, batch_first=True,
                                      enforce_sorted=False)
        hidden, _ = self.gru(packed)
        hidden, _ = pad_packed_sequence(hidden, batch_first=True, total_length=tokens.size(1))
        return self.out(F.relu(hidden))


def run(steps=20, seed=0, init_state=None, batch_size=6, max_len=7):
    """Train ``steps`` RMSprop steps in float64; return (losses, {name: numpy array}).
    The tag of a token is the token modulo 3, shifted by one in odd positions."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, max_len + 1, size=batch_size)
    tokens = rng.integers(1, 8, size=(batch_size, max_len))
    tokens[np.arange(max_len)[None, :] >= lengths[:, None]] = PAD
    tags = (tokens + np.arange(max_len) % 2) % 3
    tags[tokens == PAD] = -100
    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(seed)
        model = Tagger()
        if init_state is not None:
            model.load_state_dict({k: torch.tensor(v) for k, v in init_state.items()})
        optimizer = optim.RMSprop(model.parameters(), lr=1e-2)
        x, y, n = torch.tensor(tokens), torch.tensor(tags), torch.tensor(lengths)
        losses = []
        for _ in range(steps):
            scores = model(x, n)
            loss = F.cross_entropy(scores.reshape(-1, scores.size(-1)), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        state = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
        return losses, state
    finally:
        torch.set_default_dtype(old_dtype)


if __name__ == "__main__":
    print(run()[0])
