"""The PyTorch peers' timing (conv1d_step_peer.py, depthwise_step_peer.py): thread CPU time at one thread (else wall
time), the median of 9 rounds of 10 calls after 30, and the lowest, printed as the Java sides print theirs."""
import time


def report(name, f, threads):
    clock = time.thread_time if threads == 1 else time.perf_counter
    for _ in range(30): f()
    rounds = []
    for _ in range(9):
        t = clock()
        for _ in range(10): f()
        rounds.append((clock() - t) / 10 * 1e3)
    rounds.sort()
    print("%-12s median %7.3f  lowest %7.3f ms" % (name, rounds[len(rounds) // 2], rounds[0]))
