#!/usr/bin/python3
"""Writes optimizers.txt: parameters after each step of PyTorch 1.13's Adamax, NAdam, RAdam, Rprop and ASGD.

Run with Debian's torch (1.13) from this directory:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_optimizers.py

NewOptimizersTest replays every case in Kiln. Each line of optimizers.txt is ``name step index
value``:

- ``init 0 i v``: element i of the two starting parameters (float32, 8 values each, the first
  group's then the second's);
- ``grad s i v``: their gradients, set by hand before optimizer step s (1..STEPS);
- ``<case> s i v``: the parameters after step s;
- ``<case>_ax s i v``: for the ASGD cases, the running average ``ax`` after step s.

Every case has two param groups: the first at the case's rate, the second at half of it (and, in
the ``_groups`` cases, a weight decay of its own). Cases ending in ``_lr_change`` halve every
group's rate before step 6. STEPS is 12 so that RAdam's rectified branch (rho_t > 5, from step 6
on) is reached. Values are float32 printed with repr, so Java reads them back exactly.
"""
import torch

STEPS = 12
N = 8


def cases():
    O = torch.optim
    return {
        "adamax": (lambda g: O.Adamax(g, lr=0.05), {}),
        "adamax_wd": (lambda g: O.Adamax(g, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), {}),
        "nadam": (lambda g: O.NAdam(g, lr=0.05), {}),
        "nadam_wd": (lambda g: O.NAdam(g, lr=0.05, betas=(0.85, 0.995), eps=1e-7, weight_decay=0.1,
                                       momentum_decay=0.01), {}),
        "nadam_groups": (lambda g: O.NAdam(g, lr=0.05), {"weight_decay": 0.2}),
        "radam": (lambda g: O.RAdam(g, lr=0.05), {}),
        "radam_wd": (lambda g: O.RAdam(g, lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1), {}),
        "radam_lr_change": (lambda g: O.RAdam(g, lr=0.05, betas=(0.9, 0.9)), {}),
        "rprop": (lambda g: O.Rprop(g, lr=0.05), {}),
        "rprop_etas": (lambda g: O.Rprop(g, lr=0.05, etas=(0.3, 1.5), step_sizes=(0.01, 0.08)), {}),
        "rprop_lr_change": (lambda g: O.Rprop(g, lr=0.05), {}),
        "adamax_lr_change": (lambda g: O.Adamax(g, lr=0.05), {}),
        "asgd": (lambda g: O.ASGD(g, lr=0.05), {}),
        "asgd_avg": (lambda g: O.ASGD(g, lr=0.05, lambd=0.02, alpha=0.6, t0=3, weight_decay=0.1), {}),
        "asgd_groups": (lambda g: O.ASGD(g, lr=0.05, lambd=0.01, t0=4.5), {"weight_decay": 0.2}),
        "asgd_lr_change": (lambda g: O.ASGD(g, lr=0.05, lambd=0.05, alpha=1.0, t0=2), {}),
    }


def main():
    gen = torch.Generator().manual_seed(1234)
    init = torch.randn(2, N, generator=gen)
    # gradients that flip sign now and then (Rprop) and change scale (the moments)
    grads = [torch.randn(2, N, generator=gen) * (0.2 + (s % 4)) for s in range(STEPS)]
    lines = ["# written by make_optimizers.py with torch " + torch.__version__ + ": name step index value"]

    def put(name, step, values):
        for i, v in enumerate(values.reshape(-1).tolist()):
            lines.append(f"{name} {step} {i} {float(v)!r}")

    put("init", 0, init)
    for s in range(STEPS):
        put("grad", s + 1, grads[s])
    for name, (make, second) in cases().items():
        p0 = init[0].clone().requires_grad_(True)
        p1 = init[1].clone().requires_grad_(True)
        opt = make([{"params": [p0]}, dict({"params": [p1]}, **second)])
        opt.param_groups[1]["lr"] = opt.param_groups[0]["lr"] * 0.5
        for s in range(STEPS):
            if name.endswith("_lr_change") and s + 1 == 6:
                for g in opt.param_groups:
                    g["lr"] *= 0.5
            p0.grad = grads[s][0].clone()
            p1.grad = grads[s][1].clone()
            opt.step()
            put(name, s + 1, torch.stack([p0.detach(), p1.detach()]))
            if name.startswith("asgd"):
                put(name + "_ax", s + 1, torch.stack([opt.state[p0]["ax"], opt.state[p1]["ax"]]))
    with open("optimizers.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
