#!/usr/bin/env python3
"""GPU peer: HF transformers with mPLUG-Owl3's real shapes, random weights, bf16, on one CUDA device.

mPLUG-Owl3 itself is not in transformers (its hyper-attention layers live in the authors' remote code), so the peer is
its two halves as transformers runs them: the Qwen2 language model of each size (1B = Qwen2-0.5B shape, 2B = Qwen2-1.5B,
7B = Qwen2-7B; spec/CHECKPOINTS.md) and the SigLIP-400M vision tower (384 px, patch 14, 729 tokens per crop).
Every figure is wall time around CUDA-synchronised work, after a warm-up:

  prefill_tok_s      one forward over a prompt of P tokens (batch 1), P / seconds
  decode_tok_s       B sequences decoding N steps after a P-token prompt with transformers' KV cache, B*N / seconds
  vision_ms_per_crop one forward over C crops, milliseconds / C

    python3 bench/peer/hf_gpu_peer.py --out peer.json [--sizes 1b,2b,7b] [--budget-s 200]

Writes the JSON after every measurement, so a run cut short keeps what it measured.
"""
import argparse, json, os, platform, sys, time

import torch

SHAPES = {  # hidden, intermediate, layers, heads, kv heads, vocab (Owl3's padded vocab: 151851)
    "1b": (896, 4864, 24, 14, 2),
    "2b": (1536, 8960, 28, 12, 2),
    "7b": (3584, 18944, 28, 28, 4),
}


def timed(fn, reps=1):
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        out = fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps, out


def lm(size):
    from transformers import Qwen2Config, Qwen2ForCausalLM
    h, i, l, nh, kv = SHAPES[size]
    cfg = Qwen2Config(hidden_size=h, intermediate_size=i, num_hidden_layers=l, num_attention_heads=nh,
                      num_key_value_heads=kv, vocab_size=151851, max_position_embeddings=32768, rope_theta=1e6,
                      tie_word_embeddings=(size == "1b"), torch_dtype="bfloat16")
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(cfg).to(torch.bfloat16).eval()
    return model


@torch.inference_mode()
def bench_lm(size, prompt, steps, batch):
    model = lm(size)
    res = {"params_b": sum(p.numel() for p in model.parameters()) / 1e9}
    ids = torch.randint(0, 151000, (1, prompt), device="cuda")
    model(ids[:, :16])  # warm-up
    t, _ = timed(lambda: model(ids), reps=3)
    res["prefill_tok_s"] = prompt / t
    res["prefill_ms"] = t * 1e3
    for b in batch:
        ids_b = torch.randint(0, 151000, (b, prompt), device="cuda")
        out = model(ids_b, use_cache=True)
        past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
        for _ in range(4):  # warm-up steps
            out = model(nxt, past_key_values=past, use_cache=True)
            past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)

        def run():
            nonlocal past, nxt
            for _ in range(steps):
                o = model(nxt, past_key_values=past, use_cache=True)
                past, nxt = o.past_key_values, o.logits[:, -1:].argmax(-1)
        t, _ = timed(run)
        res[f"decode_b{b}_tok_s"] = b * steps / t
        res[f"decode_b{b}_ms_per_step"] = t / steps * 1e3
        del past, out
    del model
    torch.cuda.empty_cache()
    return res


@torch.inference_mode()
def bench_vision(crops):
    from transformers import SiglipVisionConfig, SiglipVisionModel
    cfg = SiglipVisionConfig(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                             image_size=384, patch_size=14)
    cfg._attn_implementation = "sdpa"
    with torch.device("cuda"):
        model = SiglipVisionModel(cfg).to(torch.bfloat16).eval()
    res = {}
    for c in crops:
        px = torch.randn(c, 3, 384, 384, device="cuda", dtype=torch.bfloat16)
        model(pixel_values=px)
        t, _ = timed(lambda: model(pixel_values=px), reps=3)
        res[f"vision_{c}crops_ms_per_crop"] = t * 1e3 / c
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="1b,2b,7b")
    ap.add_argument("--prompt", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--batch", default="1,8,32")
    ap.add_argument("--budget-s", type=float, default=200)
    a = ap.parse_args()
    import transformers
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "host": platform.node(),
              "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
              "transformers": transformers.__version__, "prompt_tokens": a.prompt, "decode_steps": a.steps,
              "dtype": "bfloat16", "attn": "sdpa", "results": {}, "errors": []}
    start = time.perf_counter()

    def save():
        with open(a.out, "w") as f:
            json.dump(report, f, indent=2)

    save()
    jobs = [("vision", lambda: bench_vision([1, 7]))]
    jobs += [(s, (lambda s=s: bench_lm(s, a.prompt, a.steps, [int(b) for b in a.batch.split(",")]))) for s in a.sizes.split(",")]
    for name, job in jobs:
        if time.perf_counter() - start > a.budget_s:
            report["errors"].append(f"{name}: skipped, budget of {a.budget_s} s spent")
            continue
        try:
            t = time.perf_counter()
            report["results"][name] = job()
            report["results"][name]["wall_s"] = round(time.perf_counter() - t, 1)
        except Exception as e:  # keep going: a partial report is still a report
            report["errors"].append(f"{name}: {type(e).__name__}: {e}")
            torch.cuda.empty_cache()
        save()
        print(name, json.dumps(report["results"].get(name)), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
