"""The trainer's oracle: the same llama written in PyTorch, differentiated by autograd.

  torch_llama.py check DIR   reads DIR/config.json, DIR/params.bin (float32, the
                             trainer's flat layout) and DIR/batches.bin (int32
                             [n x 2 x B x T]: tokens, then targets), and writes, in float64:
                               loss.bin   the loss of batch 0
                               grads.bin  its gradient, in the same flat layout
                             and, when config["steps"] > 0, after that many optimizer steps
                             (clip_grad_norm_ + AdamW at the given lrs, grad_accum batches each):
                               losses.bin the loss of every step
                               after.bin  the parameters
  torch_llama.py bench ...   float32 training speed of a random model (see --help).

Written from the architecture's definition (llama.cpp / Hugging Face llama with
RoPE on adjacent pairs), not from the C++ code.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(T, D, base, dtype):
    """cos and sin of the angles pos * base^(-2i/D), [1, T, 1, D/2] each, computed in float64."""
    pos = torch.arange(T, dtype=torch.float64)
    freq = base ** (-2.0 * torch.arange(D // 2, dtype=torch.float64) / D)
    angle = (pos[:, None] * freq[None, :])[None, :, None, :]
    return torch.cos(angle).to(dtype), torch.sin(angle).to(dtype)


def rope(x, cos, sin):
    """Rotates the adjacent pairs (2i, 2i+1) of x [B, T, heads, D]."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)


def forward(P, s, tokens):
    """Logits [B, T, V] of the llama with parameters P (GGUF names) on tokens [B, T]."""
    B, T = tokens.shape
    H, K, D = s["heads"], s["kv_heads"], s["dim"] // s["heads"]
    eps = s["norm_eps"]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    x = P["token_embd.weight"][tokens]
    cos, sin = rope_tables(T, D, s["rope_base"], x.dtype)
    for l in range(s["layers"]):
        p = f"blk.{l}."
        h = rmsnorm(x, P[p + "attn_norm.weight"], eps)
        q = rope((h @ P[p + "attn_q.weight"].T).view(B, T, H, D), cos, sin)
        k = rope((h @ P[p + "attn_k.weight"].T).view(B, T, K, D), cos, sin)
        v = (h @ P[p + "attn_v.weight"].T).view(B, T, K, D)
        k = k.repeat_interleave(H // K, dim=2)               # query head h reads kv head h // (H/K)
        v = v.repeat_interleave(H // K, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))      # [B, H, T, D]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        att = scores.masked_fill(~causal, float("-inf")).softmax(-1) @ v
        x = x + att.transpose(1, 2).reshape(B, T, H * D) @ P[p + "attn_output.weight"].T
        h = rmsnorm(x, P[p + "ffn_norm.weight"], eps)
        mlp = F.silu(h @ P[p + "ffn_gate.weight"].T) * (h @ P[p + "ffn_up.weight"].T)
        x = x + mlp @ P[p + "ffn_down.weight"].T
    x = rmsnorm(x, P["output_norm.weight"], eps)
    return x @ P.get("output.weight", P["token_embd.weight"]).T


def loss_of(P, s, tokens, targets):
    logits = forward(P, s, tokens)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def check(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    s, B, T = cfg["shape"], cfg["B"], cfg["T"]
    flat = torch.from_numpy(np.fromfile(os.path.join(d, "params.bin"), dtype="float32")).to(torch.float64)
    P = {}
    for t in cfg["tensors"]:
        shape = (t["cols"],) if t["rows"] == 1 else (t["rows"], t["cols"])
        P[t["name"]] = flat[t["offset"]:t["offset"] + t["rows"] * t["cols"]].clone().view(shape).requires_grad_()
    ids = torch.from_numpy(np.fromfile(os.path.join(d, "batches.bin"), dtype="int32").astype("int64"))
    ids = ids.view(-1, 2, B, T)

    def flatten(tensors):
        out = torch.zeros(flat.numel(), dtype=torch.float64)
        for t in cfg["tensors"]:
            out[t["offset"]:t["offset"] + t["rows"] * t["cols"]] = tensors[t["name"]].detach().reshape(-1)
        return out.numpy()

    loss = loss_of(P, s, ids[0, 0], ids[0, 1])
    loss.backward()
    np.array([loss.item()], dtype="float64").tofile(os.path.join(d, "loss.bin"))
    flatten({n: p.grad for n, p in P.items()}).tofile(os.path.join(d, "grads.bin"))

    steps, accum = cfg.get("steps", 0), cfg.get("grad_accum", 1)
    if steps == 0:
        return
    a = cfg["adamw"]
    decay = {t["name"]: t["decay"] for t in cfg["tensors"]}
    groups = [{"params": [p for n, p in P.items() if decay[n]], "weight_decay": a["weight_decay"]},
              {"params": [p for n, p in P.items() if not decay[n]], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=cfg["lrs"][0], betas=(a["beta1"], a["beta2"]), eps=a["eps"])
    losses = []
    for step in range(steps):
        opt.zero_grad()
        total = 0.0
        for m in range(accum):
            i = step * accum + m
            loss = loss_of(P, s, ids[i, 0], ids[i, 1]) / accum
            loss.backward()
            total += loss.item()
        losses.append(total)
        torch.nn.utils.clip_grad_norm_(list(P.values()), cfg["clip"])
        for g in opt.param_groups:
            g["lr"] = cfg["lrs"][step]
        opt.step()
    np.array(losses, dtype="float64").tofile(os.path.join(d, "losses.bin"))
    flatten(P).tofile(os.path.join(d, "after.bin"))


def bench(argv):
    ap = argparse.ArgumentParser(prog="torch_llama.py bench",
                                 description="float32 training steps/s of a random llama (forward, backward, AdamW)")
    for name, default in [("vocab", 259), ("dim", 384), ("layers", 6), ("heads", 6), ("kv_heads", 6), ("ffn", 1024),
                          ("ctx", 256), ("batch", 4), ("steps", 5), ("threads", 1)]:
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    s = {"heads": a.heads, "kv_heads": a.kv_heads, "dim": a.dim, "layers": a.layers, "norm_eps": 1e-5,
         "rope_base": 10000.0}
    C, D, F_ = a.dim, a.dim // a.heads, a.ffn
    shapes = {"token_embd.weight": (a.vocab, C), "output_norm.weight": (C,)}
    for l in range(a.layers):
        p = f"blk.{l}."
        shapes.update({p + "attn_norm.weight": (C,), p + "attn_q.weight": (a.heads * D, C),
                       p + "attn_k.weight": (a.kv_heads * D, C), p + "attn_v.weight": (a.kv_heads * D, C),
                       p + "attn_output.weight": (C, a.heads * D), p + "ffn_norm.weight": (C,),
                       p + "ffn_gate.weight": (F_, C), p + "ffn_up.weight": (F_, C), p + "ffn_down.weight": (C, F_)})
    P = {n: (torch.randn(sh) * 0.02 if len(sh) == 2 else torch.ones(sh)).requires_grad_() for n, sh in shapes.items()}
    opt = torch.optim.AdamW(P.values(), lr=1e-4)
    tokens = torch.randint(0, a.vocab, (a.batch, a.ctx))
    targets = torch.randint(0, a.vocab, (a.batch, a.ctx))

    def step():
        opt.zero_grad()
        loss_of(P, s, tokens, targets).backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()

    step()  # warm-up: allocations, thread start
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    print(json.dumps({"tokens_per_s": a.steps * a.batch * a.ctx / dt, "params": sum(p.numel() for p in P.values()),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "bench":
        bench(sys.argv[2:])
    else:
        sys.exit(__doc__)
