#!/usr/bin/python3
"""Writes src/fixtures/jpeg-pil.json: a JPEG made by PIL and what PIL (on the system's libjpeg-turbo) decodes it
to, at full size and at DCT scales (Image.draft), and resizes it to with its antialiased bilinear filter.
The reference for src/jpeg.test.ts. Run: /usr/bin/python3 scripts/make-jpeg-fixture.py"""
import base64, io, json, os
from PIL import Image, __version__ as pil_version

W, H = 96, 72
pixels = bytearray()
for y in range(H):
    for x in range(W):
        pixels += bytes(((x * 5 + ((y >> 3) & 1) * 90) & 255, (y * 3 + x) & 255, ((x ^ y) * 2) & 255))
source = Image.frombytes('RGB', (W, H), bytes(pixels))
buffer = io.BytesIO()
source.save(buffer, 'JPEG', quality=90, subsampling=2)  # 4:2:0
jpeg = buffer.getvalue()

def b64(data):
    return base64.b64encode(data).decode()

cases = []
for scale, size in [(8, None), (4, None), (2, None), (8, (40, 30)), (8, (96, 40)), (4, (31, 17)), (2, (9, 9)), (8, (120, 90))]:
    image = Image.open(io.BytesIO(jpeg))
    if scale != 8:
        image.draft('RGB', (W * scale // 8, H * scale // 8))  # libjpeg's scale_num/8
    image = image.convert('RGB')
    decoded = image.size
    if size is not None:
        image = image.resize(size, Image.BILINEAR)
    cases.append({'scale': scale, 'decoded': list(decoded), 'resize': list(size) if size else None,
                  'width': image.size[0], 'height': image.size[1], 'rgb': b64(image.tobytes())})

out = os.path.join(os.path.dirname(__file__), '..', 'src', 'fixtures', 'jpeg-pil.json')
with open(out, 'w') as f:
    json.dump({'made_by': f'PIL {pil_version} (scripts/make-jpeg-fixture.py)', 'jpeg': b64(jpeg), 'cases': cases}, f, indent=1)
    f.write('\n')
