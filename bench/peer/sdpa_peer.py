#!/usr/bin/env python3
"""The attention peer on the same card: PyTorch's scaled_dot_product_attention (FlashAttention-2 and cuDNN backends,
and the flash_attn package when installed) at the shapes of our prefill benchmark (causal, head dims 128 and 64, 32 heads,
batch × length = 8 × 4k, 4 × 8k, 2 × 16k tokens), random bf16 operands. FLOPs counted as FlashAttention counts them (causal = half).

    python3 bench/peer/sdpa_peer.py --out peer-attention.json
"""
import argparse, json, sys, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    rows = []
    dev = torch.device("cuda")
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0),
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    try:
        import flash_attn  # noqa: F401
        from flash_attn import flash_attn_func
        info["flash_attn"] = flash_attn.__version__
    except Exception as e:  # not installed on the device image
        flash_attn_func = None
        info["flash_attn"] = f"unavailable ({type(e).__name__})"

    def timed(fn, reps=5):
        fn(); torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record(); torch.cuda.synchronize()
        return start.elapsed_time(end) / reps

    heads = 32
    for d, length in [(128, n) for n in (4096, 8192, 16384)] + [(64, n) for n in (4096, 8192, 16384)]:
        batch = max(1, 16384 // length * 2)
        g = torch.Generator(device=dev).manual_seed(length)
        q, k, v = (torch.rand(batch, heads, length, d, device=dev, generator=g, dtype=torch.float32).mul_(2).sub_(1).to(torch.bfloat16) for _ in range(3))
        flops = 4.0 * batch * heads * d * length * length / 2
        for name, backend in (("sdpa flash (FA2)", SDPBackend.FLASH_ATTENTION), ("sdpa cudnn", SDPBackend.CUDNN_ATTENTION),
                              ("sdpa efficient", SDPBackend.EFFICIENT_ATTENTION)):
            try:
                with sdpa_kernel(backend):
                    ms = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
                rows.append({"kernel": name, "shape": f"{batch}x{length} tokens, {heads}x{d}, causal", "ms": ms, "tflops": flops / ms / 1e9})
            except Exception as e:
                rows.append({"kernel": name, "shape": f"{batch}x{length}", "error": f"{type(e).__name__}: {e}"[:300]})
        if flash_attn_func is not None:
            qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))
            ms = timed(lambda: flash_attn_func(qt, kt, vt, causal=True))
            rows.append({"kernel": "flash_attn_func", "shape": f"{batch}x{length} tokens, {heads}x{d}, causal", "ms": ms, "tflops": flops / ms / 1e9})
        del q, k, v
        torch.cuda.empty_cache()
    json.dump({"info": info, "rows": rows}, open(args.out, "w"), indent=1)
    for r in rows:
        print(r, file=sys.stderr)


if __name__ == "__main__":
    main()
