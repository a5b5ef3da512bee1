"""PyTorch side of convkit's benchmark: the same workloads as bench/workloads.mjs (same layers, Adam, batch).

Usage: /usr/bin/python3 torch_bench.py --workload w1 --threads 2 --batch 64 --repeats 5 --steps 10 \
           [--configs default,channels_last,channels_last_bf16] [--scaling --rounds 8]
Prints one JSON object: {"configs": {name: {"train": [samples/s per repeat], "infer": [...], "memoryFormat": ...,
"mkldnn": ...}}, "threads": ..., "blas": "...", "torch": "..."}.

--scaling: training only, in one process started with --threads cores: windows of --steps training steps alternate
between 1 and `cores` threads (torch.set_num_threads, and OpenBLAS's own count through openblas_set_num_threads), for
--rounds rounds, so that a drift in the machine's speed falls on both; "configs" then holds
{name: {"scaling": {"1": [samples/s per window], "<cores>": [...]}, ...}}.

Configurations (each a fresh model with the same seed, measured one after the other in this process):
- default: NCHW contiguous tensors, PyTorch's defaults (mkldnn as the build leaves it).
- channels_last: model and input in `torch.channels_last` (NHWC) memory format, `torch.backends.mkldnn.enabled = True`:
  oneDNN's NHWC convolutions, PyTorch's best float32 CPU configuration reachable here.
- channels_last_bf16: channels_last with the forward and the loss under torch.autocast('cpu', dtype=torch.bfloat16)
  (bf16 convolutions and matrix products, AMX where the CPU has it): the peer of convkit's opt-in bf16 convolutions.
"""
import argparse
import ctypes
import json
import os
import time

CONFIGS = ('default', 'channels_last', 'channels_last_bf16')


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument('--workload', default='w1')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--configs', default=','.join(CONFIGS))
    parser.add_argument('--scaling', action='store_true')
    parser.add_argument('--rounds', type=int, default=8)
    args = parser.parse_args()
    for name in args.configs.split(','):
        if name not in CONFIGS:
            parser.error(f'--configs: each must be one of {", ".join(CONFIGS)} (received {name!r})')
    return args


ARGS = parse()
# Debian's torch calls the system BLAS (OpenBLAS when libopenblas0-pthread is installed) without setting its threads:
# OpenBLAS would take every core at 1 thread. Its thread count is read when it loads, so set it before `import torch`.
os.environ.setdefault('OPENBLAS_NUM_THREADS', str(ARGS.threads))
os.environ.setdefault('OMP_NUM_THREADS', str(ARGS.threads))

import torch  # noqa: E402
from torch import nn  # noqa: E402


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


def window(step, batch, steps):
    """One timed window of `steps` calls, in samples/s."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def rates(step, batch, repeats, steps):
    for _ in range(3):
        step()
    return [window(step, batch, steps) for _ in range(repeats)]


def setup(config, args):
    """The workload in one configuration: its training and inference steps."""
    torch.manual_seed(0)
    model, shape = build(args.workload)
    x = torch.randn(args.batch, *shape)
    y = torch.randint(0, 10, (args.batch,))
    if config in ('channels_last', 'channels_last_bf16'):
        torch.backends.mkldnn.enabled = True
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    low = config == 'channels_last_bf16'

    def forward_loss():
        if not low:
            return loss_fn(model(x), y)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            return loss_fn(model(x), y)

    def train():
        optimizer.zero_grad()
        loss = forward_loss()
        loss.backward()
        optimizer.step()
        return loss.item()

    def infer():
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=low):
            model(x).sum().item()

    model.train()
    return train, infer


def describe(config):
    return {
        'memoryFormat': 'channels_last' if config != 'default' else 'contiguous (NCHW)',
        'precision': 'bf16' if config == 'channels_last_bf16' else 'f32',
        'mkldnn': bool(torch.backends.mkldnn.enabled),
    }


def measure(config, args):
    train, infer = setup(config, args)
    return {
        'train': rates(train, args.batch, args.repeats, args.steps),
        'infer': rates(infer, args.batch, args.repeats, args.steps * 2),
        **describe(config),
    }


def loaded_libraries():
    """The paths of the shared libraries this process has mapped (torch and its BLAS, once imported)."""
    with open('/proc/self/maps') as maps:
        return {line.split()[-1] for line in maps if '.so' in line}


# OpenBLAS's own thread count, which torch.set_num_threads leaves alone (where torch loaded OpenBLAS).
OPENBLAS = [ctypes.CDLL(path) for path in loaded_libraries() if 'libopenblas' in path]


def set_threads(count):
    """torch's threads and OpenBLAS's."""
    torch.set_num_threads(count)
    for library in OPENBLAS:
        library.openblas_set_num_threads(count)


def scaling(config, args):
    train, _ = setup(config, args)
    counts = [1, args.threads]
    windows = {str(count): [] for count in counts}
    for count in counts:
        set_threads(count)
        for _ in range(3):
            train()
    for round_ in range(args.rounds):
        for count in counts if round_ % 2 == 0 else counts[::-1]:
            set_threads(count)
            train()
            windows[str(count)].append(window(train, args.batch, args.steps))
    set_threads(args.threads)
    return {'scaling': windows, **describe(config)}


def main():
    args = ARGS
    torch.set_num_threads(args.threads)
    run = scaling if args.scaling else measure
    configs = {name: run(name, args) for name in args.configs.split(',')}
    loaded = ' '.join(loaded_libraries())
    blas = 'OpenBLAS' if 'openblas' in loaded else ('reference BLAS' if 'libblas' in loaded else 'unknown')
    print(json.dumps({'configs': configs, 'threads': torch.get_num_threads(), 'torch': torch.__version__,
                      'mkldnnAvailable': torch.backends.mkldnn.is_available(), 'blas': blas,
                      'env': {k: os.environ.get(k) for k in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'OMP_WAIT_POLICY',
                                                            'GOMP_SPINCOUNT')}}))


if __name__ == '__main__':
    main()
