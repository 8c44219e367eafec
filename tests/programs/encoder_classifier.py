"""A transformer-encoder sequence classifier with padding masks, written as a PyTorch
example would be.

Every name the model and the training loop use is reached through the ``torch`` module
passed to ``run``, so the same code trains on PyTorch and on gpugrad.
"""
import numpy as np

PAD = 0


def build(torch, ntoken, max_len, d_model=16, nhead=2, dim_feedforward=32, nclass=2):
    """Embeddings -> a post-norm TransformerEncoder -> a pre-norm one -> masked mean pool
    -> Linear head."""
    nn = torch.nn

    def encoder(norm_first):
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                           batch_first=True, norm_first=norm_first)
        return nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(ntoken, d_model, padding_idx=PAD)
            self.pos = nn.Parameter(torch.randn(1, max_len, d_model) * 0.1)
            self.post_norm = encoder(norm_first=False)
            self.pre_norm = encoder(norm_first=True)
            self.head = nn.Linear(d_model, nclass)

        def forward(self, src):
            padding_mask = src == PAD
            x = self.embed(src) + self.pos[:, :src.size(1)]
            x = self.post_norm(x, src_key_padding_mask=padding_mask)
            x = self.pre_norm(x, src_key_padding_mask=padding_mask)
            keep = (~padding_mask).to(x.dtype).unsqueeze(-1)
            pooled = (x * keep).sum(dim=1) / keep.sum(dim=1)
            return self.head(pooled)

    return Classifier()


def make_batch(rng, ntoken, batch_size, max_len):
    """Padded random sequences; the label says whether token 1 occurs in the sequence."""
    lengths = rng.integers(2, max_len + 1, size=batch_size)
    src = rng.integers(1, ntoken, size=(batch_size, max_len))
    src[np.arange(max_len)[None, :] >= lengths[:, None]] = PAD
    labels = (src == 1).any(axis=1).astype(np.int64)
    return src, labels


def run(torch, steps=20, seed=0, init_state=None, ntoken=6, batch_size=8, max_len=7):
    """Train ``steps`` Adam steps in float64; return (losses, {name: numpy array}).
    ``init_state`` replaces the initial weights."""
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(seed)
        model = build(torch, ntoken, max_len)
        if init_state is not None:
            model.load_state_dict({k: torch.tensor(v) for k, v in init_state.items()})
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(steps):
            src, labels = make_batch(rng, ntoken, batch_size, max_len)
            loss = F.cross_entropy(model(torch.tensor(src)), torch.tensor(labels))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        state = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
        return losses, state
    finally:
        torch.set_default_dtype(old_dtype)


if __name__ == "__main__":
    import torch
    print(run(torch)[0])
