"""torchvision reference for the augment benchmark: PIL decode -> RandomResizedCrop(224) -> flip -> rotate(15) -> ColorJitter -> float tensor.

Usage: torchvision_bench.py WORKERS PASSES FILE...
WORKERS 0: one process, one thread, image by image (no batching), as before.
WORKERS n > 0: a torch DataLoader with n worker processes (each one thread, as PyTorch sets it), batch 16,
persistent workers, the default prefetch (2 batches per worker); one warm-up epoch starts the workers.
Prints one JSON line: images/s over PASSES epochs after the warm-up, and the CPU time per image (all threads of
this process and, for the DataLoader, its workers, counted over the warm-up epoch too, since the workers' time
is only known once they exit).
"""
import gc, json, resource, sys, time
import torch
from PIL import Image
import torchvision
from torchvision import transforms as T

workers = int(sys.argv[1])
passes = int(sys.argv[2])
files = sys.argv[3:]
torch.set_num_threads(1)
pipeline = T.Compose([
    T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.RandomRotation(15),
    T.ColorJitter(0.2, 0.2, 0.2, 0.05), T.ToTensor(),
])
torch.manual_seed(0)


class Files(torch.utils.data.Dataset):
    def __len__(self):
        return len(files)

    def __getitem__(self, index):
        return pipeline(Image.open(files[index]).convert('RGB'))


if workers == 0:
    for f in files[:4]:
        pipeline(Image.open(f).convert('RGB'))
    start = time.perf_counter()
    cpu_start = time.process_time()
    n = 0
    for _ in range(passes):
        for f in files:
            pipeline(Image.open(f).convert('RGB'))
            n += 1
    seconds = time.perf_counter() - start
    cpu_ms_per_image = (time.process_time() - cpu_start) * 1000 / n
else:
    cpu_start = time.process_time()
    loader = torch.utils.data.DataLoader(Files(), batch_size=16, shuffle=False, num_workers=workers, persistent_workers=True)
    for batch in loader:  # warm-up: starts the workers
        pass
    start = time.perf_counter()
    n = 0
    for _ in range(passes):
        for batch in loader:
            n += batch.shape[0]
    seconds = time.perf_counter() - start
    del loader, batch  # stops and reaps the workers, so that their CPU time is counted
    gc.collect()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms_per_image = (time.process_time() - cpu_start + children.ru_utime + children.ru_stime) * 1000 / (n + len(files))
print(json.dumps({"imagesPerSecond": n / seconds, "cpuMsPerImage": cpu_ms_per_image, "images": n, "workers": workers, "torchvision": torchvision.__version__, "torch": torch.__version__}))
