#!/usr/bin/python3
"""Writes reference.txt: optimizer steps and scheduler learning rates computed by PyTorch.

Run with Debian's torch (1.13) from this directory:

    /usr/bin/python3 make_reference.py

The Java tests (AdamTest, SgdReferenceTest, SchedulerTest) replay the same cases in Kiln and
compare with the values written here. Each line of reference.txt is

    name step index value

- ``init 0 i v``: element i of the starting parameter (float32, shape [6]);
- ``grad s i v``: element i of the gradient set by hand before optimizer step s (1..5);
- ``<optimizer case> s i v``: element i of the parameter after optimizer step s;
- ``<scheduler case> e g v``: the learning rate of param group g at epoch e (0 = after
  construction, then after each scheduler.step()), from scheduler.get_last_lr().

Values are float32 (parameters, gradients) or float64 (learning rates) printed with repr, so
Java reads them back exactly. The hyperparameters of each case are in CASES and SCHEDULERS
below; the Java tests spell out the same ones.
"""
import os

import torch

STEPS = 5
EPOCHS = 8
INIT = [0.5, -1.5, 2.0, -0.75, 1.25, 3.0]
# Large first gradients, then small ones, so that amsgrad's running maximum of v matters.
GRADS = [
    [2.0, -1.5, 0.8, 3.0, -0.4, 1.2],
    [0.1, 0.2, -0.3, -0.25, 0.05, -0.1],
    [-0.7, 0.9, 0.6, -1.1, 2.5, 0.3],
    [0.05, -0.02, 0.4, 0.15, -0.3, 0.08],
    [1.3, 0.6, -0.9, 0.2, 0.7, -2.2],
]


def lr_times_tenth_before_step_3(opt, step):
    """The tutorials' hand-made decay: opt.paramGroups().forEach(g -> g.lr(g.lr() * 0.1))."""
    if step == 3:
        for group in opt.param_groups:
            group["lr"] *= 0.1


CASES = {
    "adam_default": (lambda p: torch.optim.Adam(p, lr=0.05), None),
    "adam_wd_amsgrad": (
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, amsgrad=True),
        None,
    ),
    "adam_lr_change": (lambda p: torch.optim.Adam(p, lr=0.1), lr_times_tenth_before_step_3),
    "adamw_default": (lambda p: torch.optim.AdamW(p, lr=0.05), None),
    "adamw": (lambda p: torch.optim.AdamW(p, lr=0.05, betas=(0.85, 0.995), eps=1e-7, weight_decay=0.2), None),
    "sgd_nesterov": (
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.01),
        None,
    ),
    "sgd_dampening": (lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, dampening=0.5), None),
    "rmsprop_default": (lambda p: torch.optim.RMSprop(p, lr=0.01), None),
    "rmsprop_centered_momentum": (
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8, centered=True),
        None,
    ),
    "rmsprop_momentum": (lambda p: torch.optim.RMSprop(p, lr=0.02, momentum=0.5), lr_times_tenth_before_step_3),
    "adagrad_default": (lambda p: torch.optim.Adagrad(p, lr=0.1), None),
    "adagrad_decay": (
        lambda p: torch.optim.Adagrad(p, lr=0.2, lr_decay=0.3, weight_decay=0.05, initial_accumulator_value=0.4,
                                      eps=1e-6),
        None,
    ),
    "adadelta_default": (lambda p: torch.optim.Adadelta(p, lr=1.0), None),
    "adadelta_wd": (lambda p: torch.optim.Adadelta(p, lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1), None),
}

SCHEDULERS = {
    "steplr": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "multisteplr": lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.1),
    "exponentiallr": lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9),
    "cosineannealinglr": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001),
    # A warm-up for group 0 and a decay for group 1 (SchedulerTest writes the same functions in Java).
    "lambdalr": lambda opt: torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda=[lambda e: min(1.0, (e + 1) / 4), lambda e: 0.9 ** e]),
    "multiplicativelr": lambda opt: torch.optim.lr_scheduler.MultiplicativeLR(
        opt, lr_lambda=lambda e: 0.95 if e % 2 else 0.8),
}
# Two param groups, so the tests see that each keeps its own base lr.
GROUP_LRS = [0.1, 0.05]


def run_optimizer(make, before_step):
    p = torch.tensor(INIT, dtype=torch.float32, requires_grad=True)
    opt = make([p])
    rows = []
    for step in range(1, STEPS + 1):
        if before_step is not None:
            before_step(opt, step)
        p.grad = torch.tensor(GRADS[step - 1], dtype=torch.float32)
        opt.step()
        rows.append(p.detach().clone().tolist())
    return rows


# Bulk cases: 256 random values and 5 random gradients, enough that a multiply-add rounded once
# (PyTorch's addcmul_ and add(alpha=)) and one rounded twice differ somewhere, so the Java replay,
# which compares bit for bit, pins the rounding order; the values are written as bulk_init / bulk_grad.
BULK = 256
BULK_CASES = {
    "bulk_adam": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.05),
    "bulk_adamw": lambda p: torch.optim.AdamW(p, lr=0.01, amsgrad=True),
    "bulk_rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.9, weight_decay=0.01),
    "bulk_adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01),
    "bulk_adadelta": lambda p: torch.optim.Adadelta(p, lr=1.0, weight_decay=0.01),
}


def run_bulk(make, init, grads):
    p = init.clone().requires_grad_(True)
    opt = make([p])
    rows = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        rows.append(p.detach().clone().tolist())
    return rows


# Epoch after whose step the "_by_hand" cases halve every group's rate by hand.
BY_HAND_AFTER = 2


def run_scheduler(make, by_hand=False):
    """Each epoch's group rates. make(opt) gives one scheduler or a list of them (stepped in turn)."""
    params = [torch.zeros(1, requires_grad=True) for _ in GROUP_LRS]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, GROUP_LRS)], lr=GROUP_LRS[0])
    made = make(opt)
    scheds = made if isinstance(made, list) else [made]
    rows = [[g["lr"] for g in opt.param_groups]]
    for epoch in range(1, EPOCHS + 1):
        opt.step()  # no gradients: changes nothing, keeps the "scheduler before optimizer" warning away
        for sched in scheds:
            sched.step()
        assert scheds[-1].get_last_lr() == [g["lr"] for g in opt.param_groups]
        rows.append([g["lr"] for g in opt.param_groups])
        if by_hand and epoch == BY_HAND_AFTER:
            for g in opt.param_groups:
                g["lr"] *= 0.5
    return rows


# A loss that improves, stalls, improves by less than the relative threshold, and so on.
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.91, 0.9, 0.89995, 0.85, 0.86, 0.87, 0.88, 0.8, 0.81, 0.82, 0.83,
                   0.84, 0.85] + [0.7] * 14
PLATEAUS = {
    "plateau_default": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt),
    "plateau_min": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=2, cooldown=1, min_lr=[0.02, 0.001]),
    "plateau_max_abs": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=0.1, patience=1, threshold=0.05, threshold_mode="abs"),
    "plateau_eps": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, eps=0.01),
}


def run_plateau(make):
    params = [torch.zeros(1, requires_grad=True) for _ in GROUP_LRS]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, GROUP_LRS)], lr=GROUP_LRS[0])
    sched = make(opt)
    rows = [[g["lr"] for g in opt.param_groups]]
    for m in PLATEAU_METRICS:
        opt.step()
        sched.step(m)
        rows.append([g["lr"] for g in opt.param_groups])
    return rows


def main():
    lines = [f"# written by make_reference.py with torch {torch.__version__}: name step index value"]
    lines += [f"init 0 {i} {v!r}" for i, v in enumerate(torch.tensor(INIT).tolist())]
    for step, grad in enumerate(GRADS, start=1):
        lines += [f"grad {step} {i} {v!r}" for i, v in enumerate(torch.tensor(grad).tolist())]

    results = {name: run_optimizer(make, hook) for name, (make, hook) in CASES.items()}
    # Sanity checks on the cases themselves: amsgrad must change the result, and no parameter
    # may come near zero, where a relative comparison would say nothing.
    plain = run_optimizer(lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1), None)
    assert plain != results["adam_wd_amsgrad"], "amsgrad made no difference: pick other gradients"
    for name, rows in results.items():
        assert all(abs(v) > 0.1 for row in rows for v in row), f"{name}: a parameter came near zero"
        for step, row in enumerate(rows, start=1):
            lines += [f"{name} {step} {i} {v!r}" for i, v in enumerate(row)]

    gen = torch.Generator().manual_seed(2026)
    bulk_init = torch.randn(BULK, generator=gen)
    bulk_grads = [torch.randn(BULK, generator=gen) for _ in range(STEPS)]
    lines += [f"bulk_init 0 {i} {v!r}" for i, v in enumerate(bulk_init.tolist())]
    for step, grad in enumerate(bulk_grads, start=1):
        lines += [f"bulk_grad {step} {i} {v!r}" for i, v in enumerate(grad.tolist())]
    for name, make in BULK_CASES.items():
        for step, row in enumerate(run_bulk(make, bulk_init, bulk_grads), start=1):
            lines += [f"{name} {step} {i} {v!r}" for i, v in enumerate(row)]

    for name, make in SCHEDULERS.items():
        for epoch, lrs in enumerate(run_scheduler(make)):
            lines += [f"{name} {epoch} {g} {v!r}" for g, v in enumerate(lrs)]
        # PyTorch's schedulers work from each group's current rate, so a rate changed by hand carries on.
        for epoch, lrs in enumerate(run_scheduler(make, by_hand=True)):
            lines += [f"{name}_by_hand {epoch} {g} {v!r}" for g, v in enumerate(lrs)]
    # Two schedulers on one optimizer compose (PyTorch's documented chaining example).
    chained = lambda opt: [torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9),
                           torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.1)]
    for epoch, lrs in enumerate(run_scheduler(chained)):
        lines += [f"chained {epoch} {g} {v!r}" for g, v in enumerate(lrs)]
    # A second scheduler made after a first changed the rates takes the groups' initial_lr as its base.
    warm_then_cosine = lambda opt: [torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda e: min(1.0, (e + 1) / 3)),
                                    torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)]
    for epoch, lrs in enumerate(run_scheduler(warm_then_cosine)):
        lines += [f"warm_then_cosine {epoch} {g} {v!r}" for g, v in enumerate(lrs)]

    # ReduceLROnPlateau: each group's rate after each step on PLATEAU_METRICS.
    lines += [f"plateau_metrics {epoch} 0 {m!r}" for epoch, m in enumerate(PLATEAU_METRICS, start=1)]
    for name, make in PLATEAUS.items():
        for epoch, lrs in enumerate(run_plateau(make)):
            lines += [f"{name} {epoch} {g} {v!r}" for g, v in enumerate(lrs)]

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {out}")


if __name__ == "__main__":
    main()
