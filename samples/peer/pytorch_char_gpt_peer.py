#!/usr/bin/env python3
"""PyTorch on the CPU for `kiln-samples char-gpt`, its twin: nanoGPT's character-level GPT (shakespeare_char) scaled
down as CharGpt.java declares it (token table 96 x 64, learned position table [1, 32, 64], 2 pre-norm blocks of
4-head causal self-attention with the fused c_attn projection cut by split(64, dim=2) and a GELU MLP of width 256,
a final LayerNorm, lm_head Linear(64, 96) without bias, its weight the token table's as nanoGPT ties them;
nanoGPT's _init_weights, no dropout), the same vocabulary (the text's characters in order, the 95 most frequent where
it has more, one unknown id), the same 90/10 split and the same windows: get_batch's starts drawn by java.util.Random(seed) as CharGptCommand.java draws
them (the evaluation's from Random(seed + 1), the sampling's from Random(seed + 2)), so both sides see the very same
batches. AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on tensors of 2 dimensions or more. Prints the
sample's lines; ms/step counts the training steps alone (evaluations left out), as the sample's does.
  OPENBLAS_NUM_THREADS=1 python3 samples/peer/pytorch_char_gpt_peer.py --steps 1000 --threads 2
"""
import argparse, math, time

import torch
import torch.nn.functional as F

S, V, D, HEADS, LAYERS = 32, 96, 64, 4, 2
DH = D // HEADS


class JavaRandom:
    """java.util.Random's generator, so that the windows are CharGptCommand.java's."""

    def __init__(self, seed):
        self.seed = (seed ^ 0x5DEECE66D) & ((1 << 48) - 1)

    def next(self, bits):
        self.seed = (self.seed * 0x5DEECE66D + 0xB) & ((1 << 48) - 1)
        r = self.seed >> (48 - bits)
        return r - (1 << 32) if r >= (1 << 31) else r

    def next_int(self, bound):
        r = self.next(31)
        m = bound - 1
        if bound & m == 0:
            return (bound * r) >> 31
        u = r
        while True:
            r = u % bound
            if ((u - r + m + (1 << 31)) % (1 << 32)) - (1 << 31) >= 0:   # Java's int overflow test
                return r
            u = self.next(31)

    def next_double(self):
        return ((self.next(26) << 27) + self.next(27)) * (1.0 / (1 << 53))


class CausalSelfAttention(torch.nn.Module):
    """nanoGPT's CausalSelfAttention; attribute names are CharGpt.java's (cAttn for c_attn), so the keys are equal."""

    def __init__(self):
        super().__init__()
        self.cAttn = torch.nn.Linear(D, 3 * D)
        self.cProj = torch.nn.Linear(D, D)
        self.register_buffer("bias", torch.tril(torch.ones(S, S)).view(1, 1, S, S))

    def forward(self, x):
        q, k, v = self.cAttn(x).split(D, dim=2)
        q = q.view(-1, S, HEADS, DH).transpose(1, 2)
        k = k.view(-1, S, HEADS, DH).transpose(1, 2)
        v = v.view(-1, S, HEADS, DH).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(DH)
        att = att.masked_fill(self.bias[:, :, :S, :S] == 0, float("-inf")).softmax(-1)  # nanoGPT's [:, :, :T, :T], T = S
        return self.cProj((att @ v).transpose(1, 2).reshape(-1, S, D))


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.cFc = torch.nn.Linear(D, 4 * D)
        self.cProj = torch.nn.Linear(4 * D, D)

    def forward(self, x):
        return self.cProj(F.gelu(self.cFc(x)))


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(D)
        self.attn = CausalSelfAttention()
        self.ln2 = torch.nn.LayerNorm(D)
        self.mlp = Mlp()

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharGpt(torch.nn.Module):
    """CharGpt.java's model with its state-dict keys (wte.weight, wpe.weight, h.0.ln1.weight, h.0.attn.cAttn.weight, ...)."""

    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(V, D)
        self.wpe = torch.nn.Embedding(S, D)
        self.h = torch.nn.ModuleList([Block() for _ in range(LAYERS)])
        self.lnF = torch.nn.LayerNorm(D)
        self.lmHead = torch.nn.Linear(D, V, bias=False)
        self.wte.weight = self.lmHead.weight   # nanoGPT's weight tying: one tensor, listed once by named_parameters
        for name, p in self.named_parameters():
            if name.startswith("ln") or ".ln" in name:
                continue
            if name.endswith(".bias"):
                torch.nn.init.zeros_(p)
            elif name.endswith("cProj.weight"):   # nanoGPT's pn.endswith('c_proj.weight')
                torch.nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * LAYERS))
            else:
                torch.nn.init.normal_(p, 0.0, 0.02)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(S))
        for block in self.h:
            x = block(x)
        return self.lmHead(self.lnF(x))


def vocabulary(text):
    counts = {}
    for c in text:
        counts[c] = counts.get(c, 0) + 1
    kept = sorted(counts)
    if len(kept) > V - 1:
        kept = sorted(sorted(counts, key=lambda c: (-counts[c], c))[:V - 1])
    return kept


def get_batch(data, batch, rng):
    starts = [rng.next_int(len(data) - S) for _ in range(batch)]
    x = torch.tensor([data[i:i + S] for i in starts])
    y = torch.tensor([data[i + 1:i + 1 + S] for i in starts])
    return x, y


@torch.no_grad()
def estimate_loss(net, data, batch, iters, rng):
    net.eval()
    total = 0.0
    for _ in range(iters):
        x, y = get_batch(data, batch, rng)
        total += F.cross_entropy(net(x).view(-1, V), y.view(-1)).item()
    net.train()
    return total / iters


@torch.no_grad()
def generate(net, prompt, count, temperature, top_k, known, rng):
    net.eval()
    ids = list(prompt)
    for _ in range(count):
        context = ids[-S:]
        window = torch.zeros(1, S, dtype=torch.long)
        window[0, :len(context)] = torch.tensor(context)       # at positions 0..; causal: the padding is never seen
        logits = net(window)[0, len(context) - 1] / temperature
        logits[known:] = float("-inf")
        kth = torch.topk(logits, min(top_k, known)).values[-1]
        p = torch.exp(logits.double() - logits.max().double())
        p[logits < kth] = 0
        u = rng.next_double() * p.sum().item()
        choice, last = None, 0
        for v in range(len(p)):
            if p[v] > 0:
                last = v
                u -= p[v].item()
                if u < 0:
                    choice = v
                    break
        ids.append(last if choice is None else choice)
    return ids[len(prompt):]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-iters", type=int, default=20)
    p.add_argument("--generate", type=int, default=300)
    p.add_argument("--prompt", default=None)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.text, encoding="utf-8") as f:
        text = f.read()
    chars = vocabulary(text)
    stoi = {c: i for i, c in enumerate(chars)}
    data = [stoi.get(c, len(chars)) for c in text]
    known = len(chars) + (1 if any(c not in stoi for c in text) else 0)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    net = CharGpt()
    print(f"PyTorch CharGpt: {sum(q.numel() for q in net.parameters())} parameters, vocabulary {known} of {V}")
    decay = [q for q in net.parameters() if q.dim() >= 2]
    no_decay = [q for q in net.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.99))
    train_rng, eval_rng = JavaRandom(a.seed), JavaRandom(a.seed + 1)
    print(f"step 0: train loss {estimate_loss(net, train, a.batch, a.eval_iters, eval_rng):.4f}, "
          f"val loss {estimate_loss(net, val, a.batch, a.eval_iters, eval_rng):.4f}")
    training = 0.0
    for step in range(1, a.steps + 1):
        net.train()
        x, y = get_batch(train, a.batch, train_rng)
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(net(x).view(-1, V), y.view(-1))
        loss.backward()
        opt.step()
        value = loss.item()
        training += time.perf_counter() - t0
        if step % a.eval_every == 0 or step == a.steps:
            tl = estimate_loss(net, train, a.batch, a.eval_iters, eval_rng)
            vl = estimate_loss(net, val, a.batch, a.eval_iters, eval_rng)
            print(f"step {step}: train loss {tl:.4f}, val loss {vl:.4f} ({1000 * training / step:.1f} ms/step)")
    print(f"trained {a.steps} steps of {a.batch} windows: {1000 * training / a.steps:.1f} ms/step on cpu, {a.threads} threads"
          f" (PyTorch {torch.__version__})")
    prompt = a.prompt if a.prompt is not None else text.split("\n", 1)[0]
    out = generate(net, [stoi[c] for c in prompt], a.generate, a.temperature, a.top_k, known, JavaRandom(a.seed + 2))
    print(f"---- {a.generate} characters after the prompt:")
    print(prompt + "".join(chars[i] if i < len(chars) else "\ufffd" for i in out))


if __name__ == "__main__":
    main()
