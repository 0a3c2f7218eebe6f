#!/usr/bin/python3
"""Writes schedules.txt: learning-rate (and momentum) sequences of PyTorch 1.13's schedulers.

Run with Debian's torch (1.13) from this directory:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_schedules.py

ScheduleSequenceTest replays every case in Kiln and compares. Each line of schedules.txt is

    name step index value

- ``<case> s g v``: the learning rate of param group g after s scheduler steps (s = 0: after
  construction), from scheduler.get_last_lr();
- ``<case>.momentum s g v``: group g's momentum (SGD) or beta1 (Adam) then, for the cases that
  cycle it;
- ``<case>.error s 0 0``: the step s that PyTorch refused (OneCycleLR past total_steps).

Every case has two param groups (rates 0.1 and 0.05) of an SGD with momentum 0.9 (or an Adam
where the case says so). Cases ending in ``_by_hand`` halve every group's rate after step
BY_HAND_AFTER, as the tutorials' hand-made decay does, which the chainable forms carry on from.
Values are float64 printed with repr, so Java reads them back exactly. The Java test spells out
the same hyperparameters as CASES below.
"""
import warnings

import torch
from torch.optim import lr_scheduler as S

warnings.filterwarnings("ignore")
BY_HAND_AFTER = 2


def sgd():
    a, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, momentum=0.9)


def adam():
    a, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    return torch.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1)


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


# name: (optimizer, scheduler factory, steps, by hand, whether momentum is recorded)
CASES = {
    "linearlr": (sgd, lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4), 10, False, False),
    "linearlr_by_hand": (sgd, lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4), 10, True, False),
    "linearlr_down": (sgd, lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=6), 10, False, False),
    "constantlr": (sgd, lambda o: S.ConstantLR(o, factor=0.5, total_iters=4), 8, False, False),
    "constantlr_by_hand": (sgd, lambda o: S.ConstantLR(o, factor=0.5, total_iters=4), 8, True, False),
    "polynomiallr": (sgd, lambda o: S.PolynomialLR(o, total_iters=6, power=2.0), 9, False, False),
    "polynomiallr_by_hand": (sgd, lambda o: S.PolynomialLR(o, total_iters=6, power=2.0), 9, True, False),
    "cawr": (sgd, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001), 30, False, False),
    "cawr_tmult1": (sgd, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=4), 13, False, False),
    "cawr_by_hand": (sgd, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001), 10, True, False),
    "onecycle_cos": (sgd, lambda o: S.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=20), 20, False, True),
    "onecycle_linear_three": (
        adam,
        lambda o: S.OneCycleLR(o, max_lr=0.3, epochs=4, steps_per_epoch=5, pct_start=0.25, anneal_strategy="linear",
                               div_factor=10.0, final_div_factor=100.0, three_phase=True, base_momentum=0.8,
                               max_momentum=0.9),
        20, False, True),
    "onecycle_no_momentum": (
        sgd, lambda o: S.OneCycleLR(o, max_lr=0.4, total_steps=12, pct_start=0.5, cycle_momentum=False), 12, False, False),
    "cyclic_triangular": (
        sgd, lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=2), 30, False, True),
    "cyclic_triangular2": (
        sgd, lambda o: S.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=4, mode="triangular2",
                                  base_momentum=0.7, max_momentum=0.95), 30, False, True),
    "cyclic_exp_range": (
        sgd, lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.95,
                                  cycle_momentum=False), 30, False, False),
    "sequential_warmup_cosine": (
        sgd, lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=3),
                                          S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)], milestones=[3]), 20, False, False),
    "sequential_three": (
        sgd, lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, gamma=0.9),
                                          S.StepLR(o, step_size=3, gamma=0.5)], milestones=[3, 7]), 15, False, False),
    "sequential_linear_second": (
        sgd, lambda o: S.SequentialLR(o, [S.ExponentialLR(o, gamma=0.9),
                                          S.LinearLR(o, start_factor=0.5, end_factor=1.0, total_iters=3)], milestones=[4]),
        10, False, False),
    "sequential_by_hand": (
        sgd, lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=3),
                                          S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)], milestones=[3]), 12, True, False),
    "chained": (
        sgd, lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=3), S.ExponentialLR(o, gamma=0.9)]),
        10, False, False),
    "chained_by_hand": (
        sgd, lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.5, total_iters=4), S.StepLR(o, step_size=3, gamma=0.5)]),
        10, True, False),
}

# CosineAnnealingWarmRestarts stepped with fractional epochs: step(epoch + batch / 4).
FRACTIONAL = [e + b / 4 for e in range(12) for b in range(4)]


def main():
    lines = ["# written by make_schedules.py with torch " + torch.__version__ + ": name step index value"]

    def put(name, step, values):
        for i, v in enumerate(values):
            lines.append(f"{name} {step} {i} {float(v)!r}")

    for name, (make_opt, make_sched, steps, by_hand, momentum) in CASES.items():
        opt = make_opt()
        sched = make_sched(opt)
        for step in range(steps + 1):
            if step > 0:
                opt.step()
                sched.step()
            put(name, step, sched.get_last_lr())
            if momentum:
                put(name + ".momentum", step, [momentum_of(g) for g in opt.param_groups])
            if by_hand and step == BY_HAND_AFTER:
                for g in opt.param_groups:
                    g["lr"] *= 0.5
        if name.startswith("onecycle"):
            try:
                opt.step()
                sched.step()
                raise AssertionError(name + ": PyTorch took a step past total_steps")
            except ValueError:
                put(name + ".error", steps + 1, [0])

    opt = sgd()
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.001)
    for step, epoch in enumerate(FRACTIONAL):
        opt.step()
        sched.step(epoch)
        put("cawr_fractional", step, sched.get_last_lr())
        put("cawr_fractional.epoch", step, [sched.last_epoch])

    with open("schedules.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
