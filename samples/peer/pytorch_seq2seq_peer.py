#!/usr/bin/env python3
"""PyTorch twin of the `seq2seq` sample (Seq2SeqTransformer.java, Seq2SeqCommand.java) for
`kiln-samples bench --model seq2seq`: the nn.Transformer translation tutorial's Seq2SeqTransformer sized for digits
(token embeddings of 11 ids, not scaled by sqrt(64) as the tutorial's, sinusoidal positions (a table of 64 rows, narrowed
to the length, as the sample's) and their dropout,
nn.Transformer(64, 4, 2, 2, 128, 0.1, batch_first=True), Linear(64, 10)), sequences of 8 random digits to sort.
  step:  one teacher-forced training step (causal target mask, cross-entropy, Adam betas (0.9, 0.98), eps 1e-9,
         lr 1e-3) on a batch of random sequences, in training mode (dropout on)
  infer: greedy decoding of a batch in eval mode under no_grad (the source encoded once, then 8 decoder passes over
         the growing prefix, each taking the last position's argmax)
Prints one line with ms_median, as the other peers do.
  pytorch_seq2seq_peer.py step --batch 64 --threads 2 --steps 50
  pytorch_seq2seq_peer.py infer --batch 64 --threads 2 --steps 50
  pytorch_seq2seq_peer.py step --threads 1 --steps 200  (one thread: thread CPU time, scripts/speed/seq2seq-step)
  pytorch_seq2seq_peer.py train --steps 600 [--task reverse]   (the sample's run: loss and greedy accuracy)
"""
import argparse, math, time

import torch
import torch.nn.functional as F

from pytorch_transformer_peer import timed  # this script's directory is on sys.path

D, HEADS, LAYERS, FF, DROPOUT, MAX_LEN = 64, 4, 2, 128, 0.1, 64
DIGITS, START, VOCAB = 10, 10, 11


class Seq2SeqTransformer(torch.nn.Module):
    def __init__(self, max_len=MAX_LEN):
        super().__init__()
        self.srcTokEmb = torch.nn.Embedding(VOCAB, D)
        self.tgtTokEmb = torch.nn.Embedding(VOCAB, D)
        self.dropout = torch.nn.Dropout(DROPOUT)
        self.transformer = torch.nn.Transformer(D, HEADS, LAYERS, LAYERS, FF, DROPOUT, batch_first=True)
        self.generator = torch.nn.Linear(D, DIGITS)
        den = torch.exp(-torch.arange(0, D, 2) * math.log(10000) / D)
        pos = torch.arange(0, max_len).reshape(max_len, 1)
        table = torch.zeros(max_len, D)
        table[:, 0::2] = torch.sin(pos * den)
        table[:, 1::2] = torch.cos(pos * den)
        self.register_buffer("pos_embedding", table)

    def embed(self, emb, ids):
        return self.dropout(emb(ids) + self.pos_embedding[:ids.shape[1]])  # unscaled, as Seq2SeqTransformer.java says

    def forward(self, src, tgt):
        mask = torch.nn.Transformer.generate_square_subsequent_mask(tgt.shape[1]).to(src.device)
        return self.generator(self.transformer(self.embed(self.srcTokEmb, src), self.embed(self.tgtTokEmb, tgt),
                                               tgt_mask=mask))

    def encode(self, src):
        return self.transformer.encoder(self.embed(self.srcTokEmb, src))

    def decode(self, tgt, memory):
        mask = torch.nn.Transformer.generate_square_subsequent_mask(tgt.shape[1]).to(tgt.device)
        return self.generator(self.transformer.decoder(self.embed(self.tgtTokEmb, tgt), memory, tgt_mask=mask))


def batch(n, length, device, task="sort"):
    src = torch.randint(0, DIGITS, (n, length))
    out = src.sort(1).values if task == "sort" else src.flip(1)
    tgt_in = torch.cat([torch.full((n, 1), START), out[:, :-1]], 1)
    return src.to(device), tgt_in.to(device), out.reshape(-1).to(device)


def greedy_decode(net, src):
    ys = torch.full((src.shape[0], 1), START, device=src.device)
    memory = net.encode(src)
    for t in range(src.shape[1]):
        ys = torch.cat([ys, net.decode(ys, memory)[:, t].argmax(1, keepdim=True)], 1)
    return ys[:, 1:]


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=["step", "infer", "train"])
    p.add_argument("--model", default="seq2seq", choices=["seq2seq"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--task", default="sort", choices=["sort", "reverse"], help="what train learns")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    net = Seq2SeqTransformer().to(a.device)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-9)

    def step(src, tgt_in, tgt_out):
        net.train()
        opt.zero_grad()
        loss = F.cross_entropy(net(src, tgt_in).reshape(-1, DIGITS), tgt_out)
        loss.backward()
        opt.step()
        return loss

    if a.task == "train":
        test_src, _, test_out = batch(1000, a.length, a.device, a.task)
        t0 = time.perf_counter()
        total = 0.0
        for s in range(1, a.steps + 1):
            total += step(*batch(a.batch, a.length, a.device, a.task)).item()
            if s % 200 == 0 or s == a.steps:
                net.eval()
                with torch.no_grad():
                    pred = greedy_decode(net, test_src).reshape(-1)
                right = (pred == test_out).reshape(1000, a.length)
                print(f"step {s}: train loss {total / (200 if s % 200 == 0 else s % 200):.4f}, greedy decoding: digits "
                      f"{100 * right.float().mean():.1f}%, sequences {100 * right.all(1).float().mean():.1f}%")
                total = 0.0
        print(f"trained {a.steps} steps of {a.batch} sequences in {time.perf_counter() - t0:.1f} s")
    else:
        data = batch(a.batch, a.length, a.device)
        # one thread on the CPU: the thread's CPU time, as scripts/speed/Seq2SeqStep.java measures Kiln's
        clock = time.thread_time if a.threads == 1 and a.device == "cpu" else time.perf_counter
        if a.task == "step":
            med, lo, hi = timed(lambda: step(*data).item(), a.steps, sync, clock)
        else:
            net.eval()
            with torch.no_grad():
                med, lo, hi = timed(lambda: greedy_decode(net, data[0]), a.steps, sync, clock)
        print(f"peer pytorch {torch.__version__} task {a.task} model seq2seq batch {a.batch} threads {a.threads} "
              f"device {a.device} ms_median {med * 1e3:.3f} ms_min {lo * 1e3:.3f} ms_max {hi * 1e3:.3f} "
              f"samples_per_s {a.batch / med:.0f}")
