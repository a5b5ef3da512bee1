"""torchvision reference for the augment benchmark: PIL decode -> RandomResizedCrop(224) -> flip -> rotate(15) -> ColorJitter -> float tensor."""
import json, sys, time
import torch
from PIL import Image
import torchvision
from torchvision import transforms as T

torch.set_num_threads(1)
files = sys.argv[1:-1]
passes = int(sys.argv[-1])
pipeline = T.Compose([
    T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.RandomRotation(15),
    T.ColorJitter(0.2, 0.2, 0.2, 0.05), T.ToTensor(),
])
torch.manual_seed(0)
for f in files[:4]:
    pipeline(Image.open(f).convert('RGB'))
start = time.perf_counter()
n = 0
for _ in range(passes):
    for f in files:
        pipeline(Image.open(f).convert('RGB'))
        n += 1
seconds = time.perf_counter() - start
print(json.dumps({"imagesPerSecond": n / seconds, "images": n, "torchvision": torchvision.__version__}))
