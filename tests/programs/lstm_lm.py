"""A word-level LSTM language model on packed variable-length batches, written as a
PyTorch example would be.

Every name the model and the training loop use is reached through the ``torch`` module
passed to ``run``, so the same code trains on PyTorch and on gpugrad.
"""
import numpy as np

PAD = 0


def build(torch, ntoken, ninp=8, nhid=12, nlayers=2):
    """Embedding -> 2-layer LSTM over a PackedSequence -> Linear decoder."""
    nn = torch.nn
    rnn_utils = torch.nn.utils.rnn

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(ntoken, ninp, padding_idx=PAD)
            self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=0.0, batch_first=True)
            self.decoder = nn.Linear(nhid, ntoken)

        def forward(self, input, lengths):
            emb = self.encoder(input)
            packed = rnn_utils.pack_padded_sequence(emb, lengths, batch_first=True,
                                                    enforce_sorted=False)
            output, (h, c) = self.rnn(packed)
            output, _ = rnn_utils.pad_packed_sequence(output, batch_first=True,
                                                      total_length=input.size(1))
            return self.decoder(output)

    return RNNModel()


def make_batch(rng, ntoken, batch_size, max_len):
    """Sentences of a tiny deterministic grammar (each word fixes the next), padded."""
    lengths = rng.integers(3, max_len + 1, size=batch_size)
    seqs = np.full((batch_size, max_len), PAD, dtype=np.int64)
    for i, n in enumerate(lengths):
        word = rng.integers(1, ntoken)
        for t in range(n):
            seqs[i, t] = word
            word = (3 * word + 1) % (ntoken - 1) + 1
    inputs = seqs[:, :-1].copy()
    targets = seqs[:, 1:].copy()
    inputs[np.arange(max_len - 1)[None, :] >= (lengths - 1)[:, None]] = PAD
    return inputs, targets, lengths - 1


def run(torch, steps=20, seed=0, init_state=None, ntoken=12, batch_size=5, max_len=9):
    """Train ``steps`` SGD-with-momentum steps in float64 with gradient clipping; return
    (losses, {name: numpy array}). ``init_state`` replaces the initial weights."""
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(seed)
        model = build(torch, ntoken)
        if init_state is not None:
            model.load_state_dict({k: torch.tensor(v) for k, v in init_state.items()})
        optimizer = torch.optim.SGD(model.parameters(), lr=2.0, momentum=0.9)
        # One small fixed corpus, fitted over and over, as a quick example does.
        inputs, targets, lengths = make_batch(rng, ntoken, batch_size, max_len)
        losses = []
        for _ in range(steps):
            output = model(torch.tensor(inputs), torch.tensor(lengths))
            loss = F.cross_entropy(output.view(-1, ntoken), torch.tensor(targets).view(-1),
                                   ignore_index=PAD)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.2)  # clips about half the steps
            optimizer.step()
            losses.append(loss.item())
        state = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
        return losses, state
    finally:
        torch.set_default_dtype(old_dtype)


if __name__ == "__main__":
    import torch
    print(run(torch)[0])
