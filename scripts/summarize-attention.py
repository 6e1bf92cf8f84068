#!/usr/bin/env python3
"""Condenses a GPU check report (report.json of owl3-gpu-check) into the attention figures a device session decides on.

    python3 scripts/summarize-attention.py <report.json> [sdpa-peer.json] [hf-peer.json]

Prints: failed checks; the attention kernels' resource rows (the sm_90a ones included, with ptxas' notes); prefill
causal TFLOP/s per kernel, head dim and length, with each kernel's ratio to the default kernel timed in the same stage
(and to FlashAttention-2 / cuDNN when the SDPA peer's JSON is given); SigLIP's attention per kernel; the decoder
layer's time; decode, per batch and context, the host-launched time against the CUDA-graph replay and the graph-timed
variants (fused combine, programmatic) against the plain graph; the vision tower and the engine on the device, with the
HF transformers peer's figures when its JSON (bench/peer/hf_gpu_peer.py) is given.
Only the standard library: it runs on the device host as it is.
"""
import json
import os
import re
import sys
from collections import defaultdict


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    report = json.load(open(argv[1]))
    peer = json.load(open(argv[2])) if len(argv) > 2 and os.path.exists(argv[2]) else None
    hf = json.load(open(argv[3])).get("results") if len(argv) > 3 and os.path.exists(argv[3]) else None
    print(f"# {report.get('gpu')} ({report.get('arch')}), NVRTC {report.get('nvrtc')}, driver {report.get('driver')}; "
          f"copy {report.get('copy_gb_per_second') or 0:.0f} GB/s; ok = {report.get('ok')}")
    for e in report.get("errors") or []:
        print(f"ERROR: {e}")

    failed = [c for c in report.get("conformance") or [] if not c.get("pass")]
    print(f"\n## conformance: {len(report.get('conformance') or []) - len(failed)} pass, {len(failed)} fail")
    for c in failed:
        print(f"FAIL {c['kernel']} | {c['shape']} | nmse {c['nmse']:.3g} max-abs {c['max_abs']:.3g}")
    for c in report.get("conformance") or []:
        if any(w in c["kernel"] for w in ("wgmma", "programmatic", "fused", "cluster", "qwen2", "cublasLt", "engine", "vision", "layer_norm_residual")):
            print(f"{'ok  ' if c['pass'] else 'FAIL'} {c['kernel']} | {c['shape']} | nmse {c['nmse']:.2g}")

    print("\n## attention kernels (ptxas)")
    for k in report.get("kernels") or []:
        if k["file"].startswith("attention") or not k["ok"] or k.get("note"):
            print(f"{'ok  ' if k['ok'] else 'FAIL'} {k['kernel']} {k['arch']}: {k['registers']} regs, "
                  f"{k['spill_store_bytes'] + k['spill_load_bytes']} B spills{' — ' + k['note'] if k.get('note') else ''}"
                  f"{' — ' + k['problem'] if k.get('problem') else ''}")

    rows = report.get("attention_bench") or []
    prefill = [r for r in rows if r["kernel"].startswith("prefill causal")]
    if prefill:
        print("\n## prefill causal (TFLOP/s; ratio to the portable default kernel of the same stage and head dim)")
        by_shape = defaultdict(list)
        for i, r in enumerate(prefill):
            name = re.search(r"\((.*)\)", r["kernel"]).group(1)
            shape = r["shape"].split(";")[0]
            by_shape[shape].append((i, name, r["tflops"]))
        # The SDPA peer (bench/peer/sdpa_peer.py): rows {kernel: "sdpa flash (FA2)" | "sdpa cudnn" | …, shape: "8x4096 tokens, …"}.
        sdpa = defaultdict(dict)
        for p in (peer or {}).get("rows", []):
            if "tflops" in p:
                sdpa[p["shape"].split(", causal")[0]][p["kernel"]] = p["tflops"]
        for shape, entries in by_shape.items():
            default = None
            peers = sdpa.get(shape.strip().replace("×", "x"), {})  # "8x4096 tokens, 32x128"
            fa2 = peers.get("sdpa flash (FA2)")
            for i, name, tf in entries:
                portable = re.fullmatch(r"attention_prefill_d\d+_bf16", name) is not None
                if portable:
                    default = tf  # the latest default row before this one belongs to the same stage
                ratio = f" = {tf / default:.2f}× default" if default and not portable else ""
                vs_fa2 = f", {tf / fa2:.2f}× FA2" if fa2 else ""
                print(f"{shape:>22} {name:<42} {tf:7.1f}{ratio}{vs_fa2}")
            for k, v in peers.items():
                print(f"{shape:>22} {'(peer) ' + k:<42} {v:7.1f}")

    vision = [r for r in rows if r["kernel"].startswith("vision attention")]
    if vision:
        print("\n## vision attention (SigLIP: 64 crops × 729, 16 × 72, non-causal; TFLOP/s counted at D = 72)")
        default = None
        for r in vision:
            name = re.search(r"\((.*)\)", r["kernel"]).group(1)
            portable = re.fullmatch(r"attention_prefill_d\d+_bf16", name) is not None
            if portable:
                default = r["ms"]
            ratio = f" = {default / r['ms']:.2f}× the d80 kernel's speed" if default and not portable else ""
            print(f"  {name:<42} {1000 * r['ms']:7.1f} µs per crop per layer, {r['tflops']:6.1f} TFLOP/s{ratio}")

    layer = [r for r in rows if r["kernel"].startswith("qwen2 ")]
    if layer:
        print("\n## decoder layer and text model on the device (ms per layer or step; tok/s: for a layer row, of a model of"
              " that many such layers without embedding and LM head)")
        for r in layer:
            tok = f", ≈ {r['gb_per_second']:.0f} tok/s" if r.get("gb_per_second") else ""
            print(f"  {r['kernel']:<58} {r['shape'].split(';')[0]:<44} {r['ms']:8.3f} ms{tok}")

    vision = [r for r in rows if r["kernel"].startswith("vision tower") or r["kernel"].startswith("vision encode")]
    engine = [r for r in rows if r["kernel"].startswith("qwen2 engine")]
    if vision or engine:
        hf_peer = hf or {}
        print("\n## the model on the device (vision tower ms per crop; engine decode tok/s) — HF transformers peer where one was measured")
        for r in vision:
            print(f"  {r['kernel']:<58} {r['ms']:8.3f} ms a crop, {r['tflops'] or 0:6.1f} TFLOP/s | {r['shape']}")
        if hf_peer.get("vision"):
            print(f"  (peer) HF SigLIP bf16: {hf_peer['vision'].get('vision_7crops_ms_per_crop', float('nan')):.3f} ms a crop at 7 crops")
        for r in engine:
            print(f"  {r['kernel']:<58} {r['gb_per_second']:8.1f} tok/s, {r['ms']:.3f} ms a token | {r['shape']}")
        if hf_peer.get("1b"):
            print(f"  (peer) HF 1B: decode b1 {hf_peer['1b'].get('decode_b1_tok_s', float('nan')):.1f} tok/s, prefill {hf_peer['1b'].get('prefill_tok_s', float('nan')):.0f} tok/s")

    gemv = [r for r in rows if r["kernel"].startswith("gemv_bf16") or r["kernel"].startswith("cuBLASLt")]
    if gemv:
        print("\n## gemv_bf16 beside cuBLASLt (graph replays, one run; % of copy = weight bytes a second)")
        by_shape = defaultdict(dict)
        for r in gemv:
            by_shape[r["shape"]][r["kernel"]] = r
        for shape, forms in by_shape.items():
            g = forms.get("gemv_bf16 (CUDA graph)")
            c = next((v for k, v in forms.items() if k.startswith("cuBLASLt")), None)
            line = f"  {shape.split(':')[0]:<32}"
            if g:
                line += f" gemv {g['ms'] * 1000:7.1f} µs {g.get('percent_of_copy') or 0:4.0f}%"
            if c:
                line += f" | cuBLASLt{' + swiglu' if 'swiglu' in c['kernel'] else ''} {c['ms'] * 1000:7.1f} µs {c.get('percent_of_copy') or 0:4.0f}%"
            if g and c:
                line += f" | gemv {c['ms'] / g['ms']:.2f}× faster"
            print(line)

    # The cluster decode's own rows (RunArchSpecific: its forms beside the planned launch pair, one run).
    same_run = [r for r in rows if r["kernel"].startswith("decode paged") and ("one cluster" in r["shape"] or "+ combine" in r["shape"])]
    if same_run:
        print("\n## cluster decode, batch 1 (graph replays in one run; ratio = planned launch pair's time / this form's)")
        by_len = defaultdict(list)
        for r in same_run:
            by_len[int(re.match(r"batch 1, (\d+) keys", r["shape"]).group(1))].append(r)
        for keys in sorted(by_len):
            base = next((r["ms"] for r in by_len[keys] if r["kernel"] == "decode paged (tc, CUDA graph)"), None)
            for r in by_len[keys]:
                us = r["ms"] * 1000 if r["ms"] == r["ms"] else float("nan")
                ratio = f"{base / r['ms']:.2f}×" if base and r["ms"] == r["ms"] else "-"
                print(f"  {keys:>5} keys: {r['kernel']:<58} {us:7.1f} µs {r.get('percent_of_copy') or 0:4.0f}% {ratio:>6} | {r['shape'].split(', ', 3)[-1]}")

    decode = [r for r in rows if r["kernel"].startswith("decode paged") and r not in same_run]
    if decode:
        print("\n## decode (% of copy; graph = CUDA-graph replay, the device's own time)")
        for r in rows:
            if r["kernel"].startswith("launch floor"):
                print(f"  {r['kernel']}: {r['ms'] * 1000:.2f} µs a step | {r['shape']}")
        table = defaultdict(dict)
        for r in decode:
            m = re.match(r"batch (\d+), (\d+) keys.*splits (\d+)( \(planned\))?", r["shape"])
            if not m:
                continue
            key = (int(m.group(1)), int(m.group(2)))
            form = re.search(r"\((.*)\)", r["kernel"]).group(1)
            splits = int(m.group(3))
            table[key][(form, splits, bool(m.group(4)))] = (r["ms"] * 1000, r["percent_of_copy"])
        for (batch, keys) in sorted(table):
            forms = table[(batch, keys)]
            planned = [f for f in forms if f[2]]
            line = []
            for (form, splits, is_planned), (us, pct) in sorted(forms.items(), key=lambda x: (not x[0][2], x[0][1], x[0][0])):
                if is_planned or form == "tc, CUDA graph":
                    line.append(f"{form}{'' if is_planned else f' s{splits}'}: {us:.1f} µs {pct:.0f}%")
            floor = next((v for f, v in forms.items() if f[0] == "read floor, CUDA graph"), None)
            best = min((v[0] for f, v in forms.items() if f[2] and f[0].startswith("tc")), default=None)
            if floor and best:
                line.append(f"best decode form = {best / floor[0]:.2f}× the read floor")
            print(f"b{batch} × {keys:>5}: " + "; ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
