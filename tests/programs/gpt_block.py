"""A tiny GPT-style character language model, written as a PyTorch example would be.

Every name the model and the training loop use is reached through the ``torch`` module
passed to ``run``, so the same code trains on PyTorch and on gpugrad.
"""
import math

import numpy as np

TEXT = "the quick brown fox jumps over the lazy dog. " * 8


def build(torch, vocab_size, block_size=8, n_embd=16, n_head=2, n_layer=2):
    """The GPT model: block 0 uses ``F.scaled_dot_product_attention``, block 1 a masked
    softmax over a ``torch.tril`` buffer."""
    nn = torch.nn
    F = torch.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self, use_sdpa):
            super().__init__()
            self.n_head, self.n_embd, self.use_sdpa = n_head, n_embd, use_sdpa
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            mask = torch.tril(torch.ones(block_size, block_size))
            self.register_buffer("bias", mask.view(1, 1, block_size, block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if self.use_sdpa:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self, use_sdpa):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention(use_sdpa)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.h = nn.ModuleList([Block(use_sdpa=(i == 0)) for i in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            self.wte.weight = self.lm_head.weight  # weight tying

        def forward(self, idx, targets=None):
            B, T = idx.size()
            pos = torch.arange(0, T, dtype=torch.long)
            x = self.wte(idx) + self.wpe(pos)
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            loss = None
            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
            return logits, loss

    return GPT()


def run(torch, steps=20, seed=0, init_state=None, batch_size=4, block_size=8):
    """Train ``steps`` AdamW steps in float64; return (losses, {name: numpy array}) with the
    final state_dict. ``init_state`` (name -> numpy array) replaces the initial weights."""
    chars = sorted(set(TEXT))
    data = np.array([chars.index(c) for c in TEXT], dtype=np.int64)
    rng = np.random.default_rng(seed)
    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(seed)
        model = build(torch, len(chars), block_size=block_size)
        if init_state is not None:
            model.load_state_dict({k: torch.tensor(v) for k, v in init_state.items()})
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
        # One fixed batch of windows, fitted over and over, so 20 steps show learning.
        starts = rng.integers(0, len(data) - block_size - 1, size=batch_size)
        x = torch.tensor(np.stack([data[s:s + block_size] for s in starts]))
        y = torch.tensor(np.stack([data[s + 1:s + 1 + block_size] for s in starts]))
        losses = []
        for _ in range(steps):
            _, loss = model(x, y)
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
