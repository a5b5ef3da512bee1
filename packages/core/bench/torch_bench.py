"""PyTorch side of convkit's benchmark: the same workloads as bench/workloads.mjs (NCHW, same layers, Adam, batch).

Usage: /usr/bin/python3 torch_bench.py --workload w1 --threads 2 --batch 64 --repeats 5 --steps 10
Prints one JSON object: {"train": [samples/s per repeat], "infer": [...], "blas": "...", "torch": "..."}.
"""
import argparse
import json
import time

import torch
from torch import nn


def build(name):
    if name == 'w1':
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(7 * 7 * 64, 128), nn.ReLU(), nn.Linear(128, 10)), (1, 28, 28)
    if name == 'vgg':
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(4 * 4 * 128, 256), nn.ReLU(), nn.Linear(256, 10)), (3, 32, 32)
    raise ValueError(f'workload must be w1 or vgg (received {name})')


def rates(step, batch, repeats, steps):
    for _ in range(3):
        step()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        out.append(batch * steps / (time.perf_counter() - start))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--workload', default='w1')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--steps', type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, shape = build(args.workload)
    x = torch.randn(args.batch, *shape)
    y = torch.randint(0, 10, (args.batch,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def train():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    def infer():
        with torch.no_grad():
            model(x).sum().item()

    model.train()
    train_rates = rates(train, args.batch, args.repeats, args.steps)
    infer_rates = rates(infer, args.batch, args.repeats, args.steps * 2)
    with open('/proc/self/maps') as maps:
        loaded = maps.read()
    blas = 'OpenBLAS' if 'openblas' in loaded else ('reference BLAS' if 'libblas' in loaded else 'unknown')
    print(json.dumps({'train': train_rates, 'infer': infer_rates, 'threads': torch.get_num_threads(),
                      'torch': torch.__version__, 'blas': blas}))


if __name__ == '__main__':
    main()
