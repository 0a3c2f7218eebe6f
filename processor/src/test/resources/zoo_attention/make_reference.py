#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's outputs of the attention zoo's models for ZooAttentionTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

The models are PyTorch twins of processor/src/test/resources/models/Zoo{Vit,SimpleVit,AttentionPool,GptBlock}.java, written
from lucidrains/vit-pytorch's vit.py and simple_vit.py and karpathy/nanoGPT's model.py (einops' rearrange and repeat
spelled with view/permute/expand). Each parameter of named_parameters() (a tied weight once) is filled with
0.2 * sin(0.37 * i + 0.01 * c) over its values in row-major order, c the sum of the character codes of its name without
underscores, lower-cased (to_qkv and the Java port's toQkv alike), computed in double and rounded to float, as the Java
test fills the port's parameter of that name. Inputs: images
sin(0.3 * i + 0.5), tokens [N, S, E] sin(0.3 * i + 0.5), ids (7 * i + 3) % 16. Each model in eval mode (no dropout)
gives its logits, the cross-entropy of those labels, and the gradient of the loss to its first parameter (ViT's cls
token, the pool's learned query, nanoGPT's tied wte) and, for the pool, to the tokens. Lines are ``<model>.<name> [shape] values...`` (TorchReference's format).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def fill(model):
    shapes = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            c = sum(ord(ch) for ch in name.replace("_", "").lower())
            values = [0.2 * math.sin(0.37 * i + 0.01 * c) for i in range(p.numel())]
            p.copy_(torch.tensor(values, dtype=torch.float64).to(torch.float32).view(p.shape))
            shapes.append((name, list(p.shape)))
    return shapes


def filled(shape, scale, shift):
    n = math.prod(shape)
    return torch.tensor([math.sin(scale * i + shift) for i in range(n)], dtype=torch.float64).to(torch.float32).view(shape)


def patches(img, p):  # Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)')
    b, c, hh, ww = img.shape
    return img.view(b, c, hh // p, p, ww // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, (hh // p) * (ww // p), p * p * c)


class FeedForward(nn.Module):
    def __init__(self, dim, hidden, dropout=None):
        super().__init__()
        layers = [nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU()]
        layers += [nn.Dropout(dropout)] if dropout is not None else []
        layers += [nn.Linear(hidden, dim)]
        layers += [nn.Dropout(dropout)] if dropout is not None else []
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Attention(nn.Module):
    def __init__(self, dim, heads, dim_head, dropout=None):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.scale = heads, dim_head ** -0.5
        self.norm = nn.LayerNorm(dim)
        self.attend = nn.Softmax(dim=-1)
        self.dropout = nn.Dropout(dropout) if dropout is not None else nn.Identity()
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout)) if dropout is not None \
            else nn.Linear(inner, dim, bias=False)

    def forward(self, x):
        x = self.norm(x)
        b, n, _ = x.shape
        q, k, v = (t.view(b, n, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = self.dropout(self.attend(torch.matmul(q, k.transpose(-1, -2)) * self.scale))
        return self.to_out(torch.matmul(attn, v).transpose(1, 2).reshape(b, n, -1))


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, mlp, dropout=None, final_norm=True):
        super().__init__()
        if final_norm:
            self.norm = nn.LayerNorm(dim)
        self.final_norm = final_norm
        self.layers = nn.ModuleList([nn.ModuleList([Attention(dim, heads, dim_head, dropout), FeedForward(dim, mlp, dropout)])
                                     for _ in range(depth)])

    def forward(self, x):
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return self.norm(x) if self.final_norm else x


class ViT(nn.Module):  # vit.py, pool='cls'
    def __init__(self):
        super().__init__()
        self.to_patch_embedding = nn.Sequential(nn.Identity(), nn.LayerNorm(48), nn.Linear(48, 32), nn.LayerNorm(32))
        self.cls_token = nn.Parameter(torch.randn(1, 1, 32))
        self.pos_embedding = nn.Parameter(torch.randn(1, 17, 32))
        self.dropout = nn.Dropout(0.1)
        self.transformer = Transformer(32, 2, 4, 8, 64, 0.1)
        self.mlp_head = nn.Linear(32, 10)

    def forward(self, img):
        x = self.to_patch_embedding(patches(img, 4))
        b, n, _ = x.shape
        x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)
        x = self.dropout(x + self.pos_embedding[:, :(n + 1)])
        return self.mlp_head(self.transformer(x)[:, 0])


def posemb_sincos_2d(h, w, dim, temperature=10000):
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    omega = torch.arange(dim // 4) / (dim // 4 - 1)
    omega = 1.0 / (temperature ** omega)
    y = y.flatten()[:, None] * omega[None, :]
    x = x.flatten()[:, None] * omega[None, :]
    return torch.cat((x.sin(), x.cos(), y.sin(), y.cos()), dim=1).float()


class SimpleViT(nn.Module):  # simple_vit.py
    def __init__(self):
        super().__init__()
        self.to_patch_embedding = nn.Sequential(nn.Identity(), nn.LayerNorm(48), nn.Linear(48, 32), nn.LayerNorm(32))
        self.pos_embedding = posemb_sincos_2d(4, 4, 32)
        self.transformer = Transformer(32, 2, 4, 8, 64, None, final_norm=False)
        self.linear_head = nn.Sequential(nn.LayerNorm(32), nn.Linear(32, 10))

    def forward(self, img):
        x = self.to_patch_embedding(patches(img, 4)) + self.pos_embedding
        return self.linear_head(self.transformer(x).mean(dim=1))


class AttentionPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(1, 1, 32))
        self.attn = nn.MultiheadAttention(32, 4, dropout=0.1, batch_first=True)
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        pooled, _ = self.attn(self.query.expand(x.size(0), -1, -1), x, x)
        return self.head(self.norm(pooled.squeeze(1)))


class CausalSelfAttention(nn.Module):  # nanoGPT's, bias=False, dropout 0.1
    def __init__(self, flash):
        super().__init__()
        self.c_attn = nn.Linear(32, 96, bias=False)
        self.c_proj = nn.Linear(32, 32, bias=False)
        self.attn_dropout, self.resid_dropout = nn.Dropout(0.1), nn.Dropout(0.1)
        self.flash = flash
        self.register_buffer("bias", torch.tril(torch.ones(8, 8)).view(1, 1, 8, 8))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(32, dim=2)
        k, q, v = (t.view(B, T, 4, C // 4).transpose(1, 2) for t in (k, q, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (flash: PyTorch 2's SDPA, the same sums in eval)
        mask = torch.ones(T, T).tril() if self.flash else self.bias[:, :, :T, :T]
        att = self.attn_dropout(F.softmax(att.masked_fill(mask == 0, float('-inf')), dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    def __init__(self, flash):
        super().__init__()
        self.ln_1 = nn.LayerNorm(32)
        self.attn = CausalSelfAttention(flash)
        self.ln_2 = nn.LayerNorm(32)
        self.mlp = nn.Sequential()
        self.mlp.c_fc, self.mlp.gelu = nn.Linear(32, 128, bias=False), nn.GELU()
        self.mlp.c_proj, self.mlp.dropout = nn.Linear(128, 32, bias=False), nn.Dropout(0.1)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe, self.drop = nn.Embedding(16, 32), nn.Embedding(8, 32), nn.Dropout(0.1)
        self.h = nn.ModuleList([Block(False), Block(True)])
        self.ln_f = nn.LayerNorm(32)
        self.lm_head = nn.Linear(32, 16, bias=False)
        self.wte.weight = self.lm_head.weight

    def forward(self, idx):
        t = idx.size(1)
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(0, t, dtype=torch.long)))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def line(key, t):
    return f"{key} [{','.join(str(s) for s in t.shape)}] " + " ".join(repr(v) for v in t.detach().flatten().tolist())


def main():
    torch.manual_seed(0)
    lines = []
    cases = [("ZooVit", ViT(), [4, 3, 16, 16], [0, 3, 1, 9]), ("ZooSimpleVit", SimpleViT(), [4, 3, 16, 16], [0, 3, 1, 9]),
             ("ZooAttentionPool", AttentionPool(), [4, 6, 32], [0, 3, 1, 4]), ("ZooGptBlock", GPT(), [4, 8], None)]
    for name, model, shape, labels in cases:
        shapes = fill(model)
        lines.append(f"# {name}: " + ", ".join(f"{n} {s}" for n, s in shapes))
        model.eval()
        if labels is None:
            x = torch.tensor([(7 * i + 3) % 16 for i in range(math.prod(shape))]).view(shape)
            target = torch.tensor([(5 * i + 1) % 16 for i in range(math.prod(shape))])
        else:
            x = filled(shape, 0.3, 0.5).requires_grad_(True)
            target = torch.tensor(labels)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target)
        loss.backward()
        lines.append(line(name + ".logits", logits))
        lines.append(line(name + ".loss", loss.reshape(1)))
        if labels is not None and len(shape) == 3:
            lines.append(line(name + ".dx", x.grad))
        first, p = next(model.named_parameters())
        lines.append(line(name + ".grad." + first, p.grad))
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


main()
