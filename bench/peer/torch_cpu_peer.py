#!/usr/bin/env python3
"""PyTorch CPU peer for `owl3 bench --shape 1b --device cpu`: the same shapes in plain torch.

Qwen2-0.5B decoder (the 1B-241014 LM: hidden 896, 24 layers, 14 heads / 2 kv heads, intermediate 4864, tied
151851-row embedding) with a KV cache, and one SigLIP-400M crop (27 layers of which 26 run, 729 tokens, width 1152).
Weights are random (same shapes as the random checkpoint Owl3Native loads). Run with Debian's torch:

    /usr/bin/python3 bench/peer/torch_cpu_peer.py --threads 2 --dtype bfloat16 --prompt-tokens 128 --new-tokens 64

Prints one JSON line with decode_tok_s, prefill_tok_s and vision_ms_per_crop (same definitions as owl3 bench:
decode counts decode steps only; prefill is one forward over the prompt).
"""
import argparse, json, time
import torch
import torch.nn.functional as F

def rms_norm(x, w, eps=1e-6):
    v = x.float().pow(2).mean(-1, keepdim=True)
    return (x.float() * torch.rsqrt(v + eps)).to(x.dtype) * w

def attention(q, k, v, causal):
    """[heads, Lq, D] x [heads, Lk, D]; softmax in fp32 (torch 1.13 has no scaled_dot_product_attention)."""
    s = (q.float() @ k.float().transpose(-1, -2)) / q.shape[-1] ** 0.5
    if causal:
        lq, lk = q.shape[1], k.shape[1]
        s = s.masked_fill(torch.ones(lq, lk, dtype=torch.bool).triu(lk - lq + 1), float("-inf"))
    return (s.softmax(-1) @ v.float()).to(q.dtype)

def rope(x, pos, theta=1e6):
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2).float() / d))
    ang = pos.float()[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin

class Qwen2:
    def __init__(self, dtype, hidden=896, layers=24, heads=14, kv=2, inter=4864, vocab=151851):
        g = torch.Generator().manual_seed(0)
        r = lambda *s: (torch.rand(*s, generator=g) * 2 - 1).mul_(1 / s[-1] ** 0.5).to(dtype)
        self.h, self.nh, self.nkv, self.d = hidden, heads, kv, hidden // heads
        self.embed = (torch.rand(vocab, hidden, generator=g) * 2 - 1).to(dtype)
        self.layers = [dict(ln1=torch.ones(hidden, dtype=dtype), ln2=torch.ones(hidden, dtype=dtype),
                            q=r(hidden, hidden), qb=r(hidden), k=r(kv * self.d, hidden), kb=r(kv * self.d),
                            v=r(kv * self.d, hidden), vb=r(kv * self.d), o=r(hidden, hidden),
                            gate=r(inter, hidden), up=r(inter, hidden), down=r(hidden, inter)) for _ in range(layers)]
        self.norm = torch.ones(hidden, dtype=dtype)

    @torch.inference_mode()
    def forward(self, ids, cache, start):
        x = self.embed[ids]
        pos = torch.arange(start, start + ids.shape[0])
        for i, L in enumerate(self.layers):
            h = rms_norm(x, L["ln1"])
            q = F.linear(h, L["q"], L["qb"]).view(-1, self.nh, self.d).transpose(0, 1)
            k = F.linear(h, L["k"], L["kb"]).view(-1, self.nkv, self.d).transpose(0, 1)
            v = F.linear(h, L["v"], L["vb"]).view(-1, self.nkv, self.d).transpose(0, 1)
            q, k = rope(q, pos), rope(k, pos)
            if i in cache:
                k = torch.cat([cache[i][0], k], 1); v = torch.cat([cache[i][1], v], 1)
            cache[i] = (k, v)
            rep = self.nh // self.nkv
            kk, vv = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
            a = attention(q, kk, vv, causal=ids.shape[0] > 1)
            x = x + F.linear(a.transpose(0, 1).reshape(-1, self.h), L["o"])
            m = rms_norm(x, L["ln2"])
            x = x + F.linear(F.silu(F.linear(m, L["gate"])) * F.linear(m, L["up"]), L["down"])
        return F.linear(rms_norm(x[-1:], self.norm), self.embed).float()

class Siglip:
    def __init__(self, dtype, hidden=1152, layers=27, heads=16, inter=4304, patch=14, size=384):
        g = torch.Generator().manual_seed(1)
        r = lambda *s: (torch.rand(*s, generator=g) * 2 - 1).mul_(1 / s[-1] ** 0.5).to(dtype)
        self.heads, self.patch, self.size, self.dtype = heads, patch, size, dtype
        self.conv = r(hidden, 3, patch, patch); self.convb = r(hidden)
        n = (size // patch) ** 2
        self.pos = r(n, hidden)
        self.layers = [dict(l1w=torch.ones(hidden, dtype=dtype), l1b=r(hidden), q=r(hidden, hidden), qb=r(hidden),
                            k=r(hidden, hidden), kb=r(hidden), v=r(hidden, hidden), vb=r(hidden), o=r(hidden, hidden), ob=r(hidden),
                            l2w=torch.ones(hidden, dtype=dtype), l2b=r(hidden), f1=r(inter, hidden), f1b=r(inter),
                            f2=r(hidden, inter), f2b=r(hidden)) for _ in range(layers - 1)]

    @torch.inference_mode()
    def forward(self, px):
        x = F.conv2d(px.to(self.dtype), self.conv, self.convb, stride=self.patch).flatten(2).transpose(1, 2)[0] + self.pos
        for L in self.layers:
            a = F.layer_norm(x, x.shape[-1:], L["l1w"], L["l1b"], 1e-6)
            q, k, v = (F.linear(a, L[n], L[n + "b"]).view(-1, self.heads, x.shape[-1] // self.heads).transpose(0, 1) for n in "qkv")
            x = x + F.linear(attention(q, k, v, causal=False).transpose(0, 1).reshape(x.shape), L["o"], L["ob"])
            m = F.layer_norm(x, x.shape[-1:], L["l2w"], L["l2b"], 1e-6)
            x = x + F.linear(F.gelu(F.linear(m, L["f1"], L["f1b"]), approximate="tanh"), L["f2"], L["f2b"])
        return x

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--no-vision", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    lm = Qwen2(dtype)
    ids = torch.randint(1, 150000, (a.prompt_tokens,))
    lm.forward(ids[:8], {}, 0)  # warm-up
    cache = {}
    t = time.perf_counter(); logits = lm.forward(ids, cache, 0); prefill = time.perf_counter() - t
    nxt = logits.argmax(-1)
    t = time.perf_counter()
    for s in range(a.new_tokens):
        logits = lm.forward(nxt, cache, a.prompt_tokens + s); nxt = logits.argmax(-1)
    decode = time.perf_counter() - t
    vision_ms = None
    if not a.no_vision:
        sig = Siglip(dtype); px = torch.rand(1, 3, 384, 384) * 2 - 1
        sig.forward(px)
        t = time.perf_counter(); sig.forward(px); vision_ms = (time.perf_counter() - t) * 1000
    print(json.dumps(dict(peer="pytorch", torch=torch.__version__, dtype=a.dtype, threads=a.threads,
                          prompt_tokens=a.prompt_tokens, new_tokens=a.new_tokens,
                          decode_tok_s=a.new_tokens / decode, prefill_tok_s=a.prompt_tokens / prefill,
                          vision_ms_per_crop=vision_ms)))

if __name__ == "__main__":
    main()
