#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's outputs and gradients for the sequence-model zoo (ZooSequenceTest).

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

Each model is pytorch/examples' (word_language_model's RNNModel for LSTM, GRU and RNN_TANH and its TransformerModel,
time_sequence_prediction's Sequence, mnist_rnn's Net) or Kim's text CNN (cnn_text_classfication's CNN_Text, its kernels
in an nn.ModuleList), at the test's small sizes, restated here with the examples' module names and so their state-dict
keys. Every parameter is filled, in named_parameters() order k, with 0.2 sin(0.37 i + 0.5 k) (i its flat index), batch
norm running statistics with sin and 1 + 0.5 cos; the model is in eval mode (no dropout) and its loss is sum(out * w),
w = sin(0.71 i + 0.3) over out. Lines are ``<model>.<key> [shape] values...`` (TorchReference's format): the input, out,
grad.<parameter> and, for float inputs, grad.input; ``# <model>.params k1,k2,...`` names the parameters in order.
WordLstmHidden is the LSTM model run from given states (hidden_case).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

V, S, N = 50, 12, 3


def filled(shape, scale, shift):
    n = math.prod(shape)
    return torch.sin(torch.arange(n, dtype=torch.float32) * scale + shift).reshape(shape)


class WordRnn(nn.Module):
    """word_language_model's RNNModel: embedding, a recurrent stack, a decoder tied or not, log-probabilities."""

    def __init__(self, rnn_type, tie):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.encoder = nn.Embedding(V, 16)
        if rnn_type == "RNN_TANH":
            self.rnn = nn.RNN(16, 16, 2, nonlinearity="tanh", dropout=0.5)
        else:
            self.rnn = getattr(nn, rnn_type)(16, 16, 2, dropout=0.5)
        self.decoder = nn.Linear(16, V)
        if tie:
            self.decoder.weight = self.encoder.weight
        self.rnn_type = rnn_type

    def forward(self, ids):  # ids [S, N], time first as the example
        zeros = torch.zeros(2, ids.size(1), 16)
        hidden = (zeros, zeros) if self.rnn_type == "LSTM" else zeros
        out, _ = self.rnn(self.drop(self.encoder(ids)), hidden)
        return F.log_softmax(self.decoder(self.drop(out)).view(-1, V), dim=1)


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout, max_len):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0), :])


class WordTransformer(nn.Module):
    """word_language_model's TransformerModel: nn.Transformer's encoder (its final norm too) under the causal mask."""

    def __init__(self):
        super().__init__()
        self.pos_encoder = PositionalEncoding(16, 0.2, 64)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, 0.2), 2, nn.LayerNorm(16))
        self.input_emb = nn.Embedding(V, 16)
        self.decoder = nn.Linear(16, V)

    def forward(self, src):  # [S, N]
        s = len(src)
        mask = (torch.triu(torch.ones(s, s)) == 1).transpose(0, 1)
        mask = mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, 0.0)
        x = self.pos_encoder(self.input_emb(src) * math.sqrt(16))
        return F.log_softmax(self.decoder(self.encoder(x, mask=mask)), dim=-1)


class Sequence(nn.Module):
    """time_sequence_prediction's Sequence, hidden 16, float: two LSTMCells over time, then `future` fed-back steps."""

    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 16)
        self.lstm2 = nn.LSTMCell(16, 16)
        self.linear = nn.Linear(16, 1)

    def forward(self, x, future=0):
        h = c = h2 = c2 = torch.zeros(x.size(0), 16)
        outs = []
        for x_t in x.split(1, dim=1):
            h, c = self.lstm1(x_t, (h, c))
            h2, c2 = self.lstm2(h, (h2, c2))
            out = self.linear(h2)
            outs.append(out)
        for _ in range(future):
            h, c = self.lstm1(out, (h, c))
            h2, c2 = self.lstm2(h, (h2, c2))
            out = self.linear(h2)
            outs.append(out)
        return torch.cat(outs, dim=1)


class MnistRnn(nn.Module):
    """mnist_rnn's Net over 12x12 images, hidden 16."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(input_size=12, hidden_size=16, batch_first=True)
        self.batchnorm = nn.BatchNorm1d(16)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(16, 8)
        self.fc2 = nn.Linear(8, 10)

    def forward(self, x):
        out, _ = self.rnn(x.reshape(-1, 12, 12))
        out = self.dropout1(self.batchnorm(out[:, -1, :]))
        out = self.dropout2(F.relu(self.fc1(out)))
        return F.log_softmax(self.fc2(out), dim=1)


class CnnText(nn.Module):
    """Kim's CNN: kernels (K, D) for K in 2, 3, 4 over the embedded sentence as one channel, max over time."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, 16)
        self.convs1 = nn.ModuleList([nn.Conv2d(1, 4, (k, 16)) for k in (2, 3, 4)])
        self.dropout = nn.Dropout(0.5)
        self.fc1 = nn.Linear(12, 5)

    def forward(self, x):
        x = self.embed(x).unsqueeze(1)
        x = [F.relu(conv(x)).squeeze(3) for conv in self.convs1]
        x = torch.cat([F.max_pool1d(i, i.size(2)).squeeze(2) for i in x], 1)
        return self.fc1(self.dropout(x))


def line(key, t):
    return f"{key} [{','.join(str(d) for d in t.shape)}] " + " ".join(f"{v:.7g}" for v in t.detach().flatten().tolist())


def case(name, model, given, run, lines):
    """Fills `model`, runs `run(model, x)` on the input `given` in eval mode, and writes its lines."""
    with torch.no_grad():
        for k, (_, p) in enumerate(model.named_parameters()):
            p.copy_(0.2 * filled(p.shape, 0.37, 0.5 * k))
        for key, b in model.named_buffers():
            if key.endswith("running_mean"):
                b.copy_(filled(b.shape, 0.61, 0.2))
            elif key.endswith("running_var"):
                b.copy_(1 + 0.5 * torch.cos(torch.arange(b.numel(), dtype=torch.float32) * 0.61))
    model.eval()
    x = given.clone().requires_grad_(given.is_floating_point())
    out = run(model, x)
    (out * filled(out.shape, 0.71, 0.3)).sum().backward()
    lines.append(f"# {name}.params " + ",".join(k for k, _ in model.named_parameters()))
    lines.append(line(f"{name}.input", given.float()))
    lines.append(line(f"{name}.out", out))
    if x.is_floating_point():
        lines.append(line(f"{name}.grad.input", x.grad))
    for key, p in model.named_parameters():
        lines.append(line(f"{name}.grad.{key}", p.grad))


def hidden_case(lines):
    """WordLstm.forwardFrom: the LSTM model from a given state, each sample's state one row [2 * 16] (h[:, n, :]
    flattened), the loss sum(out * w) + sum(h_n * cos(0.43 i)) + sum(c_n * cos(0.29 i)) in those rows."""
    torch.manual_seed(1)
    model = WordRnn("LSTM", True)
    with torch.no_grad():
        for k, (_, p) in enumerate(model.named_parameters()):
            p.copy_(0.2 * filled(p.shape, 0.37, 0.5 * k))
    model.eval()
    ids = torch.randint(0, V, (N, S))
    rows_h = (0.5 * filled((N, 32), 0.23, 0.1)).requires_grad_(True)
    rows_c = (0.5 * filled((N, 32), 0.19, 0.7)).requires_grad_(True)
    h0 = rows_h.view(N, 2, 16).transpose(0, 1)
    c0 = rows_c.view(N, 2, 16).transpose(0, 1)
    out, (h_n, c_n) = model.rnn(model.drop(model.encoder(ids.t())), (h0, c0))
    out = F.log_softmax(model.decoder(out), dim=-1).transpose(0, 1)  # [N, S, V]
    h_rows = h_n.transpose(0, 1).reshape(N, 32)
    c_rows = c_n.transpose(0, 1).reshape(N, 32)
    loss = (out * filled(out.shape, 0.71, 0.3)).sum() + (h_rows * filled((N, 32), 0.43, math.pi / 2)).sum() \
        + (c_rows * filled((N, 32), 0.29, math.pi / 2)).sum()
    loss.backward()
    name = "WordLstmHidden"
    for key, t in (("ids", ids.float()), ("h", rows_h), ("c", rows_c), ("out", out), ("hN", h_rows), ("cN", c_rows),
                   ("grad.h", rows_h.grad), ("grad.c", rows_c.grad)):
        lines.append(line(f"{name}.{key}", t))
    for key, p in model.named_parameters():
        lines.append(line(f"{name}.grad.{key}", p.grad))


def main():
    torch.manual_seed(0)
    ids = torch.randint(0, V, (N, S))
    lines = []
    for name, kind, tie in (("WordLstm", "LSTM", True), ("WordGru", "GRU", True), ("WordRnnTanh", "RNN_TANH", False)):
        case(name, WordRnn(kind, tie), ids, lambda m, x: m(x.t()).view(S, N, V).transpose(0, 1), lines)  # [N, S, V]
    case("WordTransformer", WordTransformer(), ids, lambda m, x: m(x.t()).transpose(0, 1), lines)
    case("TimeSequenceCells", Sequence(), torch.sin(torch.arange(N * S, dtype=torch.float32) * 0.3).reshape(N, S),
         lambda m, x: m(x, future=3), lines)
    case("MnistRnn", MnistRnn(), filled((N, 1, 12, 12), 0.13, 0.0), lambda m, x: m(x), lines)
    case("CnnText", CnnText(), ids, lambda m, x: m(x), lines)
    hidden_case(lines)
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


main()
