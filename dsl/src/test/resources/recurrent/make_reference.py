#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's RNN, LSTM and GRU (and their cells') outputs, states and gradients, for RecurrentTest.

Run with Debian's torch (1.13) from this directory: /usr/bin/python3 make_reference.py

Each case builds a layer (CASES), sets every parameter k (state-dict order) to sin(0.37 i + 0.1 k) / 2
(i the flat index), runs it on x = cos(0.29 i) (and initial states where given), back-propagates
sum(output * sin(0.71 i + 0.3)) + sum(h_n * cos(0.43 i)) (+ sum(c_n * sin(0.53 i)) for LSTM), and writes
``<case>.<name> [shape] values...``: the parameters, x, h0/c0, the output, h_n, c_n, x's gradient and
each parameter's gradient (``grad.<name>``). Float32 values printed with repr.
"""
import os

import torch

CASES = {
    "lstm": (lambda: torch.nn.LSTM(3, 4), (5, 2, 3), True),
    "gru2": (lambda: torch.nn.GRU(3, 4, num_layers=2, batch_first=True), (2, 5, 3), True),
    "rnn_relu_bi": (lambda: torch.nn.RNN(3, 4, nonlinearity="relu", bidirectional=True), (4, 2, 3), False),
    "lstm2_bi": (lambda: torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True, batch_first=True, bias=False), (2, 4, 3), False),
    "gru_one": (lambda: torch.nn.GRU(3, 4), (5, 3), False),
}


# Cells: (make, x shape, states given); the loss sums h' * sin(0.71 i + 0.3) (+ c' * sin(0.53 i)).
CELLS = {
    "lstmcell": (lambda: torch.nn.LSTMCell(3, 4), (2, 3), True),
    "grucell": (lambda: torch.nn.GRUCell(3, 4), (2, 3), False),
    "rnncell_one": (lambda: torch.nn.RNNCell(3, 4, nonlinearity="relu"), (3,), True),
}


def filled(shape, fn, scale, shift):
    n = 1
    for s in shape:
        n *= s
    return fn(torch.arange(n, dtype=torch.float32).reshape(shape) * scale + shift)


def line(name, t):
    shape = "[" + ",".join(str(s) for s in t.shape) + "]"
    return f"{name} {shape} " + " ".join(repr(v) for v in t.detach().flatten().tolist())


def main():
    lines = [f"# written by make_reference.py with torch {torch.__version__}"]
    for case, (make, xshape, states) in CASES.items():
        layer = make()
        with torch.no_grad():
            for k, (name, p) in enumerate(layer.named_parameters()):
                p.copy_(filled(p.shape, torch.sin, 0.37, 0.1 * k) / 2)
                lines.append(line(f"{case}.{name}", p))
        x = filled(xshape, torch.cos, 0.29, 0.0).requires_grad_()
        lines.append(line(f"{case}.x", x))
        lstm = isinstance(layer, torch.nn.LSTM)
        layers = layer.num_layers * (2 if layer.bidirectional else 1)
        batch = [] if len(xshape) == 2 else [xshape[0] if layer.batch_first else xshape[1]]
        args = [x]
        if states:
            h0 = filled([layers] + batch + [layer.hidden_size], torch.sin, 0.23, 0.5)
            lines.append(line(f"{case}.h0", h0))
            if lstm:
                c0 = filled([layers] + batch + [layer.hidden_size], torch.cos, 0.31, 0.2)
                lines.append(line(f"{case}.c0", c0))
                args.append((h0, c0))
            else:
                args.append(h0)
        out, hn = layer(*args)
        cn = None
        if lstm:
            hn, cn = hn
        loss = (out * filled(out.shape, torch.sin, 0.71, 0.3)).sum() + (hn * filled(hn.shape, torch.cos, 0.43, 0.0)).sum()
        if cn is not None:
            loss = loss + (cn * filled(cn.shape, torch.sin, 0.53, 0.0)).sum()
        loss.backward()
        lines.append(line(f"{case}.out", out))
        lines.append(line(f"{case}.hn", hn))
        if cn is not None:
            lines.append(line(f"{case}.cn", cn))
        lines.append(line(f"{case}.grad.x", x.grad))
        for name, p in layer.named_parameters():
            lines.append(line(f"{case}.grad.{name}", p.grad))
    for case, (make, xshape, states) in CELLS.items():
        cell = make()
        with torch.no_grad():
            for k, (name, p) in enumerate(cell.named_parameters()):
                p.copy_(filled(p.shape, torch.sin, 0.37, 0.1 * k) / 2)
                lines.append(line(f"{case}.{name}", p))
        x = filled(xshape, torch.cos, 0.29, 0.0).requires_grad_()
        lines.append(line(f"{case}.x", x))
        lstm = isinstance(cell, torch.nn.LSTMCell)
        sshape = list(xshape[:-1]) + [cell.hidden_size]
        args = [x]
        if states:
            h = filled(sshape, torch.sin, 0.23, 0.5).requires_grad_()
            lines.append(line(f"{case}.h0", h))
            if lstm:
                c = filled(sshape, torch.cos, 0.31, 0.2).requires_grad_()
                lines.append(line(f"{case}.c0", c))
                args.append((h, c))
            else:
                args.append(h)
        res = cell(*args)
        h1, c1 = res if lstm else (res, None)
        loss = (h1 * filled(h1.shape, torch.sin, 0.71, 0.3)).sum()
        if c1 is not None:
            loss = loss + (c1 * filled(c1.shape, torch.sin, 0.53, 0.0)).sum()
        loss.backward()
        lines.append(line(f"{case}.h1", h1))
        if c1 is not None:
            lines.append(line(f"{case}.c1", c1))
        lines.append(line(f"{case}.grad.x", x.grad))
        if states:
            lines.append(line(f"{case}.grad.h0", args[1][0].grad if lstm else args[1].grad))
        for name, p in cell.named_parameters():
            lines.append(line(f"{case}.grad.{name}", p.grad))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {out}")


if __name__ == "__main__":
    main()
