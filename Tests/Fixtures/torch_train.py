"""A torchrun rank shaped like real training: gloo process group, a DataLoader with two fork workers,
an all_reduce per step, forever. Prints "ready rank<N> <pid>" and "ready worker<N> <pid>" for its
workers once they run. Needs PyTorch (scripts/torchrun-check)."""
import os
import time

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset


class Endless(Dataset):
    def __len__(self):
        return 10**9

    def __getitem__(self, index):
        time.sleep(0.01)
        return torch.tensor([index], dtype=torch.float32)


def main():
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    batches = iter(DataLoader(Endless(), batch_size=4, num_workers=2))
    next(batches)
    print(f"ready rank{rank} {os.getpid()}", flush=True)
    for worker in batches._workers:
        print(f"ready worker{rank} {worker.pid}", flush=True)
    total = torch.zeros(1)
    while True:
        next(batches)
        dist.all_reduce(total)


main()
