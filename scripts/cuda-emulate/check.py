"""Checks Kiln's generated CUDA kernels, run on the CPU by emulate.py, against PyTorch (float64) on the CPU.
Launched by check-generated, which dumps the sources; see there. Every launch mirrors CudaCompiled's:
argument order, grid and block sizes, which pointers are null when.

    python3 check.py WORKDIR LABEL=SOURCE.cu:BATCH[,BATCH...] ...
"""
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

import emulate

TOLERANCE = 1e-5
rng = np.random.default_rng(20261123)
rows_out = []  # (check, error, worst quantity, ok, PyTorch float32's error, note)


def rel(got, ref):
    """|got - ref| / |ref| (Frobenius norms), in float64; NaN when got has a NaN."""
    got = np.asarray(got, np.float64).reshape(-1)
    ref = np.asarray(ref, np.float64).reshape(-1)
    d, r = np.linalg.norm(got - ref), np.linalg.norm(ref)
    return d / r if r > 0 else d


def bad(name, e, tolerance=TOLERANCE):
    return e != 0 if name.endswith("#") else not (e <= tolerance)  # a NaN is bad


def report(check, errors, torch32=None, tolerances=None, note=""):
    """One table row: the worst of errors (quantity -> relative error; for names ending in '#', a count of
    mismatches) and, for that quantity, the error of PyTorch's own float32 computation (torch32).
    tolerances: quantity -> a tolerance other than TOLERANCE (say why in note)."""
    tolerances = tolerances or {}
    failed = [name for name, e in errors.items() if bad(name, e, tolerances.get(name, TOLERANCE))]
    rels = [n for n in errors if not n.endswith("#")]
    worst = failed[0] if failed else max(rels, key=errors.get) if rels else max(errors, key=errors.get)
    rows_out.append((check, errors[worst], worst, not failed, (torch32 or {}).get(worst), note))
    for name in failed:
        print(f"  FAIL {check}: {name} = {errors[name]:.3g}", flush=True)


# ----------------------------------------------------------------------------------------------------
# What a source holds, read from its text: per step kJ, a Linear + ReLU or a batch norm with its sizes.

def steps(text):
    names = list(dict.fromkeys(re.findall(r'__global__ void (k\d+)_forward\b', text)))
    starts = [text.rfind("\n", 0, text.index(f"{s}_")) for s in names] + [len(text)]
    out = []
    for i, s in enumerate(names):
        sec = text[starts[i]:starts[i + 1]]
        fwd = re.search(rf"void {s}_forward\((.*?)\n}}", sec, re.S).group(0)
        body = re.sub(rf"\b{s}_", "kJ_", re.sub(r"//.*", "", sec)).strip()  # the step's code, without its name and comments
        if f"{s}_statistics" in sec:
            l, c = map(int, re.search(rf"#define {s}_AT\(ch, j\) \(\(\(long long\) \(\(j\) / (\d+)\) \* (\d+) \+", sec).groups())
            st = dict(kind="bn", step=s, c=c, l=l, body=body, relu="kiln_relu" in fwd,
                      eps=float(re.search(r"sqrt\(\(double\) var \+ ([-+.0-9eE]+)\)", sec).group(1)),
                      momentum=float(re.search(r"runningMean\[ch\] = \(float\) \(\(1\.0 - ([-+.0-9eE]+)\)", sec).group(1)))
            pool = re.search(r"\[n, \d+, (\d+), (\d+)\] -> \[n, \d+, (\d+), (\d+)\]", sec)
            st["pool"] = tuple(map(int, pool.groups())) if "int* argmax, const float* x" in fwd else None
            if st["pool"]:
                assert st["pool"][0] * st["pool"][1] == l
        else:
            st = dict(kind="linear", step=s, f=int(re.search(r"if \(col < (\d+)\)", sec).group(1)), bias="bias[" in fwd, body=body)
        out.append(st)
    return out


# ----------------------------------------------------------------------------------------------------
# Batch norm (+ ReLU (+ 2x2 max pool)): CudaCompiled.normalise and its backward node.

def bn_forward(m, st, x, rm, rv, w, b, training, n):
    s, c = st["step"], st["c"]
    count = x.a.size
    mean, var, factors = m.empty(c), m.empty(c), m.empty(2 * c)
    if training:
        m.launch(s + "_statistics", c, 256, mean, var, factors, rm, rv, w, b, x, n)
    else:
        mean.a[:], var.a[:] = rm.a, rv.a  # Cuda.copy of the running statistics
        m.launch1d(s + "_factors", c, factors, mean, var, w, b)
    if st["pool"]:
        h, wd, oh, ow = st["pool"]
        out_count = n * c * oh * ow
        argmax, y = m.empty(out_count, np.int32), m.empty(out_count)
        m.launch1d(s + "_forward", out_count, y, argmax, x, factors, out_count)
    else:
        argmax, y = None, m.empty(count)
        m.launch1d(s + "_forward", count, y, x, factors, count)
    return dict(mean=mean, var=var, factors=factors, y=y, argmax=argmax, x=x, w=w, training=training, n=n)


def bn_backward(m, st, fw, g, dw, db, acc_w, acc_b):
    s, c = st["step"], st["c"]
    x, count = fw["x"], fw["x"].a.size
    coef = m.empty(3 * c)
    out, argmax = (fw["y"], fw["argmax"]) if st["pool"] else (None, None)
    m.launch(s + "_backward_reduce", c, 256, coef, dw, db, g, x, out, argmax, fw["mean"], fw["var"], fw["w"], fw["factors"],
             fw["n"], int(fw["training"]), acc_w, acc_b)
    dx = m.empty(count)
    m.launch1d(s + "_backward", count, dx, g, x, out, argmax, coef, fw["factors"], count)
    return dx


def bn_reference(st, x, rm, rv, w, b, training, g, dtype=np.float64):
    """PyTorch: outputs, pooling indices, running statistics after, gradients of sum(out * g)."""
    t = lambda a: torch.tensor(np.asarray(a, dtype))
    xt = t(x).requires_grad_()
    wt = t(w).requires_grad_() if w is not None else None
    bt = t(b).requires_grad_() if b is not None else None
    rmt, rvt = t(rm), t(rv)
    y = F.batch_norm(xt, rmt, rvt, wt, bt, training, st["momentum"], st["eps"])
    if st["relu"]:
        y = F.relu(y)
    idx = None
    if st["pool"]:
        y, idx = F.max_pool2d(y, 2, return_indices=True)
    (y * t(g).reshape(y.shape)).sum().backward()
    grad = lambda p: None if p is None else p.grad.numpy()
    return dict(y=y.detach().numpy(), idx=None if idx is None else idx.numpy(), rm=rmt.numpy(), rv=rvt.numpy(),
                dx=xt.grad.numpy(), dw=grad(wt), db=grad(bt))


def cpu_forward(st, x, fw, w, b):
    """NormKernels' forward from the kernel's own mean and var: factors in double rounded to float, then
    x * scale + shift as two float operations, Math.max(v, 0f), 2x2 pooling keeping the first maximum."""
    c, n = st["c"], fw["n"]
    rstd = 1.0 / np.sqrt(fw["var"].a.astype(np.float64) + st["eps"])
    w64 = np.ones(c) if w is None else w.astype(np.float64)
    b64 = np.zeros(c) if b is None else b.astype(np.float64)
    sc = (w64 * rstd).astype(np.float32)
    sh = (b64 - fw["mean"].a.astype(np.float64) * w64 * rstd).astype(np.float32)
    v = x.reshape(n, c, -1) * sc[None, :, None] + sh[None, :, None]  # float32 product, then float32 sum
    if st["relu"]:
        v = np.where(np.isnan(v) | (v > 0), v, np.float32(0))
    argmax = None
    if st["pool"]:
        h, wd, oh, ow = st["pool"]
        win = v.reshape(n, c, h, wd)[:, :, :2 * oh, :2 * ow].reshape(n, c, oh, 2, ow, 2).transpose(0, 1, 2, 4, 3, 5)
        win = win.reshape(n, c, oh, ow, 4)
        q = np.argmax(win, axis=-1)  # the first maximum
        v = np.take_along_axis(win, q[..., None], -1)[..., 0]
        r, col = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
        argmax = (2 * r + q // 2) * wd + 2 * col + q % 2
    bits = lambda a: np.ascontiguousarray(a, np.float32).view(np.int32).reshape(-1)
    err = {"factors cpu#": int((bits(fw["factors"].a) != bits(np.concatenate([sc, sh]))).sum()),
           "out cpu#": int((bits(fw["y"].a) != bits(v)).sum())}
    if st["pool"]:
        err["argmax cpu#"] = int((fw["argmax"].a != argmax.reshape(-1)).sum())
    return err


def argmax_mismatches(st, x, fw, ref, training, w, b):
    """Windows whose argmax differs from PyTorch's, where the reference's top two differ clearly or all are 0."""
    n, c, (h, wd, oh, ow) = fw["n"], st["c"], st["pool"]
    xs = x.reshape(n, c, h, wd).astype(np.float64)
    if training:
        mu, var = xs.mean(axis=(0, 2, 3)), xs.var(axis=(0, 2, 3))
    else:
        mu, var = fw["mean"].a.astype(np.float64), fw["var"].a.astype(np.float64)
    w = np.ones(c) if w is None else w.astype(np.float64)
    b = np.zeros(c) if b is None else b.astype(np.float64)
    v = np.maximum((xs - mu[None, :, None, None]) / np.sqrt(var + st["eps"])[None, :, None, None] * w[None, :, None, None]
                   + b[None, :, None, None], 0)
    win = v[:, :, :2 * oh, :2 * ow].reshape(n, c, oh, 2, ow, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, 4)
    top = np.sort(win, axis=-1)
    clear = (top[..., 3] == 0) | (top[..., 3] - top[..., 2] > 1e-5 * np.maximum(top[..., 3], 1e-30))
    got = fw["argmax"].a.reshape(n, c, oh, ow)
    return int(((got != ref["idx"]) & clear).sum())


def check_bn(m, label, st, n, case):
    """One batch-norm step: training forward, evaluation forward, backward in both (accumulating or not, null gradients)."""
    c, l, s = st["c"], st["l"], st["step"]
    shape = (n, c) + ((st["pool"][0], st["pool"][1]) if st["pool"] else (l,) if l > 1 else ())
    affine = case != "no affine"
    centre, spread = rng.normal(0, 2, c), rng.uniform(0.2, 3, c)
    x = (centre[None, :, None] + spread[None, :, None] * rng.standard_normal((n, c, l))).astype(np.float32)
    w = rng.uniform(0.5, 1.5, c).astype(np.float32) if affine else None
    b = rng.normal(0, 0.5, c).astype(np.float32) if affine else None
    if case == "ties":
        b = np.full(c, -1.0, np.float32)  # most values <= 0 after the ReLU: windows of zeros
        h, wd = st["pool"][:2]
        xs = x.reshape(n, c, h, wd)
        xs[..., 0:h - 1:2, 0:wd - 1:4] = xs[..., 1:h:2, 1:wd:4]    # tie between a window's first and last
        xs[..., 0:h - 1:2, 3:wd:4] = xs[..., 1:h:2, 2:wd - 1:4]    # tie between its second and third
    rm0, rv0 = rng.normal(0, 1, c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    out_shape = shape if not st["pool"] else (n, c, st["pool"][2], st["pool"][3])
    g = rng.standard_normal(out_shape).astype(np.float32)
    tag = f"{label} {s} " + (f"bn{len(shape) - 2 or 1}d C={c}" + (f" {shape[2]}x{shape[3]}" if len(shape) == 4 else "")
                              + (" +relu" if st["relu"] else "") + (" +pool" if st["pool"] else "") + f" n={n}")
    if case != "plain":
        tag += f" [{case}]"
    xb = m.array(x)
    wb, bb = (m.array(w), m.array(b)) if affine else (None, None)
    for training in (True, False):
        mode = "train" if training else "eval"
        rm, rv = m.array(rm0), m.array(rv0)
        fw = bn_forward(m, st, xb, rm, rv, wb, bb, training, n)
        ref = bn_reference(st, x.reshape(shape), rm0, rv0, w, b, training, g)
        ref32 = bn_reference(st, x.reshape(shape), rm0, rv0, w, b, training, g, np.float32)
        torch32 = {q: rel(ref32[k], ref[k]) for q, k in [("out", "y"), ("runningMean", "rm"), ("runningVar", "rv"),
                                                         ("dx", "dx"), ("dweight", "dw"), ("dbias", "db")] if ref[k] is not None}
        err = {"out": rel(fw["y"].a, ref["y"])}
        if training:
            xs = x.reshape(n, c, -1).astype(np.float64)
            err.update(mean=rel(fw["mean"].a, xs.mean(axis=(0, 2))), var=rel(fw["var"].a, xs.var(axis=(0, 2))),
                       runningMean=rel(rm.a, ref["rm"]), runningVar=rel(rv.a, ref["rv"]))
        else:
            err.update(runningUnchanged=rel(np.concatenate([rm.a, rv.a]), np.concatenate([rm0, rv0])))
        if st["pool"]:
            err["argmax#"] = argmax_mismatches(st, x, fw, ref, training, w, b)
        err.update(cpu_forward(st, x, fw, w, b))
        report(f"{tag} forward {mode}", err, torch32)
        gb = m.array(g)
        # training: (write both), (dweight not wanted, add into dbias); evaluation: (add into dweight, dbias not wanted)
        runs = [(0, 0), (None, 1)] if training else [(1, None)]
        for acc_w, acc_b in runs if affine else [(None, None)]:
            start_w = rng.standard_normal(c).astype(np.float32)
            start_b = rng.standard_normal(c).astype(np.float32)
            dw = None if acc_w is None else m.array(start_w) if acc_w else m.empty(c)
            db = None if acc_b is None else m.array(start_b) if acc_b else m.empty(c)
            dx = bn_backward(m, st, fw, gb, dw, db, acc_w or 0, acc_b or 0)
            err = {"dx": rel(dx.a, ref["dx"])}
            if dw is not None:
                err["dweight"] = rel(dw.a, ref["dw"] + (start_w if acc_w else 0))
            if db is not None:
                err["dbias"] = rel(db.a, ref["db"] + (start_b if acc_b else 0))
            what = lambda a, name: f"{name} null" if a is None else f"{name} {'+=' if a else '='}"
            report(f"{tag} backward {mode} ({what(acc_w, 'dw')}, {what(acc_b, 'db')})", err, torch32)


# ----------------------------------------------------------------------------------------------------
# Linear + ReLU: CudaCompiled.linearRelu's epilogue on a GEMM output, and its backward.

def check_linear(m, label, st, rows):
    s, f = st["step"], st["f"]
    gemm = rng.standard_normal((rows, f)).astype(np.float32)  # what cuBLAS wrote
    bias = rng.normal(0, 0.5, f).astype(np.float32) if st["bias"] else None
    tag = f"{label} {s} linear F={f}{'' if st['bias'] else ' nobias'} +relu rows={rows}"
    y = m.array(gemm)
    m.launch1d(s + "_forward", rows * f, y, m.array(bias) if st["bias"] else None, rows * f)
    g64 = torch.tensor(gemm.astype(np.float64), requires_grad=True)
    b64 = torch.tensor(bias.astype(np.float64), requires_grad=True) if st["bias"] else None
    ref = F.relu(g64 + b64 if st["bias"] else g64)
    gin = rng.standard_normal((rows, f)).astype(np.float32)
    (ref * torch.tensor(gin.astype(np.float64))).sum().backward()
    exact = np.maximum(gemm + bias if st["bias"] else gemm, np.float32(0)).reshape(-1)
    report(f"{tag} forward", {"y": rel(y.a, ref.detach().numpy()), "bits#": int((y.a.view(np.int32) != exact.view(np.int32)).sum())})
    gb = m.array(gin)
    for acc in ((0, 1) if st["bias"] else (None,)):
        start = rng.standard_normal(f).astype(np.float32)
        db = None if acc is None else m.array(start) if acc else m.empty(f)
        dy = m.empty(rows * f)
        m.launch(s + "_backward", (f + 31) // 32, 256, dy, db, gb, y, rows, acc or 0)
        err = {"dy": rel(dy.a, g64.grad.numpy())}
        if db is not None:
            err["dbias"] = rel(db.a, b64.grad.numpy() + (start if acc else 0))
        report(f"{tag} backward (db {'null' if acc is None else '+=' if acc else '='})", err)


def main():
    workdir = sys.argv[1]
    torch.set_num_threads(1)
    for arg in sys.argv[2:]:
        label, rest = arg.split("=", 1)
        path, batches = rest.split(":")
        text = open(path).read()
        m = emulate.Module(label, text, workdir)
        seen = {}
        for st in steps(text):
            if st["body"] in seen:  # the same code under another name: the same results
                rows_out.append((f"{label} {st['step']}", None, "", True, None, f"same code as {seen[st['body']]}, not rerun"))
                continue
            seen[st["body"]] = st["step"]
            for n in map(int, batches.split(",")):
                if st["kind"] == "linear":
                    check_linear(m, label, st, n)
                    continue
                check_bn(m, label, st, n, "plain")
                if st["pool"]:
                    check_bn(m, label, st, n, "ties")
                if label == "Variants":  # weight and bias null: no sample has a batch norm without affine
                    check_bn(m, label, st, n, "no affine")
    return print_table()


def print_table():
    """Prints rows_out as a table and a summary line; 1 when a check failed, else 0."""
    width = max(len(r[0]) for r in rows_out)
    print(f"\n{'check':<{width}}  {'max rel err':>11}  {'worst':<14} {'torch f32':>9}  result")
    for check, err, worst, ok, torch32, note in rows_out:
        e = "" if err is None else f"{err:11.2e}" if isinstance(err, float) else f"{err:11d}"
        t32 = "" if torch32 is None else f"{torch32:9.2e}"
        print(f"{check:<{width}}  {e:>11}  {worst:<14} {t32:>9}  {'ok' if ok else 'FAIL'}  {note}")
    failed = sum(not r[3] for r in rows_out)
    print(f"\n{len(rows_out)} checks, {failed} failed (tolerance {TOLERANCE:g}; '#' counts mismatches, 0 wanted;"
          " torch f32: PyTorch's own float32 error on that quantity)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
