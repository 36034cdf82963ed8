"""PyTorch side of scripts/bench-gpu.sh: GoogLeNet (the course notes' model, test/reference/course_googlenet.py)
training throughput on CUDA, measured as the TypeScript side does it: aux heads on, loss = CE(main) +
0.3 CE(aux1) + 0.3 CE(aux2), Adam 3e-4, random input, `--warmup` untimed steps then `--steps` timed ones,
the loss read back after every step. Prints one JSON line; exits 0 with {"error": ...} if it cannot run.

Then evaluation throughput: the model in eval mode under no_grad, `--steps` forward passes, logits read
back. `--amp` runs both under torch.autocast (float16 on CUDA, bfloat16 on cpu) with a GradScaler: a
reference for mixed precision, which the TypeScript side does not have (it computes in float32).

Usage: python3 scripts/bench-gpu-torch.py --image-size 224 --batch-size 32 [--steps 10] [--warmup 3]
       [--device cuda|cpu] [--amp]   (cpu only to check the script itself on a machine without a GPU)
"""
import argparse
import json
import os
import sys
import time


KEY_ORDER = ["backend", "device", "imageSize", "batchSize", "trainImagesPerSec", "steps"]


def emit(out):
    """One JSON line, the keys every measurement has first."""
    ordered = {k: out[k] for k in KEY_ORDER if k in out}
    ordered.update({k: v for k, v in out.items() if k not in ordered})
    print(json.dumps(ordered, separators=(",", ":")), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cuda")
    p.add_argument("--amp", action="store_true")
    a = p.parse_args()
    out = {"backend": "torch-cuda" if a.device == "cuda" else "torch-" + a.device, "imageSize": a.image_size,
           "batchSize": a.batch_size, "precision": "amp" if a.amp else "fp32"}
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 - any import failure is reported, not raised
        out["error"] = "PyTorch is not importable: %s" % e
        emit(out)
        return
    if a.device == "cuda" and not torch.cuda.is_available():
        out["error"] = "torch %s sees no CUDA device (torch.cuda.is_available() is False)" % torch.__version__
        emit(out)
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
    from course_googlenet import GoogLeNet

    device = torch.device(a.device)
    out["device"] = torch.cuda.get_device_name(device) if a.device == "cuda" else a.device
    # cuDNN picks its fastest convolution algorithms during the warm-up steps (what training scripts do).
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(1)
    model = GoogLeNet(num_classes=5, aux_logits=True, image_size=a.image_size).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size, device=device)
    y = torch.arange(a.batch_size, device=device) % 5

    amp_dtype = torch.float16 if a.device == "cuda" else torch.bfloat16
    scaler = torch.cuda.amp.GradScaler(enabled=a.amp and a.device == "cuda")

    def autocast():
        return torch.autocast(device_type=a.device, dtype=amp_dtype, enabled=a.amp)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            logits, aux2, aux1 = model(x)
            loss = F.cross_entropy(logits, y) + 0.3 * (F.cross_entropy(aux1, y) + F.cross_entropy(aux2, y))
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss.item()  # reads the loss back, as the TypeScript trainer does every step

    def infer():
        with torch.no_grad(), autocast():
            out = model(x)
            logits = out[0] if isinstance(out, tuple) else out
            return logits.float().cpu()

    try:
        for _ in range(a.warmup):
            step()
        if a.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            loss = step()
        if a.device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        model.eval()
        infer()
        t1 = time.perf_counter()
        for _ in range(a.steps):
            infer()
        eval_seconds = time.perf_counter() - t1
    except RuntimeError as e:  # CUDA out of memory and the like
        out["error"] = str(e).split("\n")[0]
        emit(out)
        return
    out.update({"trainImagesPerSec": a.batch_size * a.steps / seconds,
                "evalImagesPerSec": a.batch_size * a.steps / eval_seconds, "steps": a.steps, "warmupSteps": a.warmup,
                "seconds": seconds, "loss": loss, "torch": torch.__version__, "cudnnBenchmark": True})
    emit(out)


if __name__ == "__main__":
    main()
