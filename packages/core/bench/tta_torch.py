"""PyTorch side of convkit's time-to-accuracy benchmark (bench/time-to-accuracy.mjs): the quick start's recipe.

Model conv16 3x3 same relu, maxpool 2, conv32 3x3 same relu, maxpool 2, dense64 relu, dense10 (He truncated-normal
weights, zero biases, as convkit's heNormal); Adam with a peak rate of 2e-3 annealed to 0 along a half cosine over the
whole fit (set before every batch); batch 64; pixels / 255; a fresh seeded shuffle each epoch. Test accuracy on the
10,000 test images is measured every `1 / evals-per-epoch` epoch with the training clock stopped.

Usage: /usr/bin/python3 tta_torch.py --data /usr/share/datasets/fashion-mnist --threads 2 --epochs 5 --target 0.91
Prints one JSON object per evaluation (progress) and a final one with "done": true.
"""
import argparse
import gzip
import json
import math
import time

import numpy as np
import torch
from torch import nn


def idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def he_truncated(tensor, fan_in):
    # Keras's truncated normal: std = sqrt(scale / fan) / 0.87962566, cut at two standard deviations.
    std = math.sqrt(2.0 / fan_in) / 0.87962566103423978
    nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)


def build():
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 32, 64), nn.ReLU(), nn.Linear(64, 10))
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            he_truncated(layer.weight, layer.weight[0].numel())
            nn.init.zeros_(layer.bias)
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--target', type=float, default=0.91)
    parser.add_argument('--evals-per-epoch', type=int, default=4)
    parser.add_argument('--train-images', type=int, default=60000)
    parser.add_argument('--seed', type=int, default=42)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_x = torch.from_numpy(idx(f'{args.data}/train-images-idx3-ubyte.gz')[:args.train_images].astype(np.float32) / 255).unsqueeze(1)
    train_y = torch.from_numpy(idx(f'{args.data}/train-labels-idx1-ubyte.gz')[:args.train_images].astype(np.int64))
    test_x = torch.from_numpy(idx(f'{args.data}/t10k-images-idx3-ubyte.gz').astype(np.float32) / 255).unsqueeze(1)
    test_y = torch.from_numpy(idx(f'{args.data}/t10k-labels-idx1-ubyte.gz').astype(np.int64))
    model = build()
    peak = 2e-3
    optimizer = torch.optim.Adam(model.parameters(), lr=peak)
    loss_fn = nn.CrossEntropyLoss()
    batch = 64
    steps_per_epoch = math.ceil(len(train_x) / batch)
    total_steps = steps_per_epoch * args.epochs
    eval_every = max(1, steps_per_epoch // args.evals_per_epoch)

    def evaluate():
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(test_x), 500):
                correct += (model(test_x[start:start + 500]).argmax(1) == test_y[start:start + 500]).sum().item()
        model.train()
        return correct / len(test_x)

    trained = 0.0
    step = 0
    reached = None
    trajectory = []
    for epoch in range(args.epochs):
        order = torch.from_numpy(rng.permutation(len(train_x)))
        for start in range(0, len(train_x), batch):
            began = time.perf_counter()
            for group in optimizer.param_groups:
                group['lr'] = 0.5 * peak * (1 + math.cos(math.pi * step / total_steps))
            index = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
            trained += time.perf_counter() - began
            step += 1
            if step % eval_every == 0 or step == total_steps:
                accuracy = evaluate()
                point = {'step': step, 'epoch': step / steps_per_epoch, 'seconds': trained, 'accuracy': accuracy}
                trajectory.append(point)
                print(json.dumps({'progress': point}), flush=True)
                if reached is None and accuracy >= args.target:
                    reached = point
                    break
        if reached is not None:
            break
    with open('/proc/self/maps') as maps:
        loaded = maps.read()
    blas = 'OpenBLAS' if 'openblas' in loaded else ('reference BLAS' if 'libblas' in loaded else 'unknown')
    print(json.dumps({'done': True, 'torch': torch.__version__, 'blas': blas, 'threads': torch.get_num_threads(),
                      'reached': reached, 'trajectory': trajectory}), flush=True)


if __name__ == '__main__':
    main()
