"""torchvision as the oracle for the data tests: reads a JSON list of jobs, writes each result as
float32 HWC (our layout) to job["out"]. Run with Debian's /usr/bin/python3 (python3-torchvision).

A job: {"file": PATH, "out": PATH, "ops": [...]} with ops applied in order, torchvision-style:
  ["resize", h, w]                      transforms.Resize((h, w))   (bilinear, PIL antialias)
  ["resized_crop", top, left, h, w, H, W]  what RandomResizedCrop does once get_params chose the box
  ["hflip"]
then ToTensor + Normalize(0.5, 0.5) unless "normalize" is false (then ToTensor only).
A job {"convert": [SRC, DST, MODE]} instead saves SRC converted to PIL mode MODE as DST (format from
its extension: .bmp, .ppm, .pgm...), to make files in formats only PIL writes here.
The image is opened as ImageFolder's pil_loader does: Image.open(f).convert("RGB").
"""
import json
import sys

from PIL import Image
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode


def main():
    jobs = json.load(open(sys.argv[1]))
    for job in [j for j in jobs if "convert" in j]:
        src, dst, mode = job["convert"]
        Image.open(src).convert(mode).save(dst)
    for job in [j for j in jobs if "convert" not in j]:
        with open(job["file"], "rb") as f:
            img = Image.open(f).convert("RGB")
        for op in job["ops"]:
            if op[0] == "resize":
                img = F.resize(img, [op[1], op[2]], interpolation=InterpolationMode.BILINEAR)
            elif op[0] == "resized_crop":
                img = F.resized_crop(img, op[1], op[2], op[3], op[4], [op[5], op[6]], interpolation=InterpolationMode.BILINEAR)
            elif op[0] == "hflip":
                img = F.hflip(img)
            else:
                raise ValueError(op)
        x = F.to_tensor(img)
        if job.get("normalize", True):
            x = F.normalize(x, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
        x.permute(1, 2, 0).contiguous().numpy().astype("<f4").tofile(job["out"])


if __name__ == "__main__":
    main()
