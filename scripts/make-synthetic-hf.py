#!/usr/bin/env python3
"""Writes a synthetic Llama Hugging Face folder of random F16 weights, for
measuring `qkv convert` on a model of realistic size without downloading one.

    scripts/make-synthetic-hf.py OUT_DIR [--layers 10] [--dim 2048] [--ffn 5632]

The weights are random (normal, std 0.02), written as one F16 safetensors
file with numpy alone; the tokenizer is the Llama-2 tokenizer.model from
../shared/models/hf-llama-tiny-random-4h (symlinked), so the folder converts
like a real model. With the defaults the safetensors file is about 1.3 GB.
"""
import argparse
import json
import os
import struct

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--ffn", type=int, default=5632)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    a = ap.parse_args()
    vocab, d, f = 32000, a.dim, a.ffn
    kv = d // a.heads * a.kv_heads
    shapes = [("model.embed_tokens.weight", (vocab, d))]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        shapes += [(p + "input_layernorm.weight", (d,)), (p + "self_attn.q_proj.weight", (d, d)),
                   (p + "self_attn.k_proj.weight", (kv, d)), (p + "self_attn.v_proj.weight", (kv, d)),
                   (p + "self_attn.o_proj.weight", (d, d)), (p + "post_attention_layernorm.weight", (d,)),
                   (p + "mlp.gate_proj.weight", (f, d)), (p + "mlp.up_proj.weight", (f, d)),
                   (p + "mlp.down_proj.weight", (d, f))]
    shapes += [("model.norm.weight", (d,)), ("lm_head.weight", (vocab, d))]

    header, offset = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(0)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as out:
        out.write(struct.pack("<Q", len(h)) + h)
        for name, shape in shapes:
            if len(shape) == 1:
                out.write(np.ones(shape, np.float16).tobytes())
                continue
            for rows in np.array_split(np.arange(shape[0]), max(1, shape[0] // 1024)):
                out.write((rng.standard_normal((len(rows), shape[1]), np.float32) * 0.02).astype(np.float16).tobytes())
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": d,
              "intermediate_size": f, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
              "num_key_value_heads": a.kv_heads, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "vocab_size": vocab, "tie_word_embeddings": False,
              "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float16"}
    with open(os.path.join(a.out, "config.json"), "w") as c:
        json.dump(config, c, indent=2)
    tok = os.path.abspath(os.path.join(a.shared, "models", "hf-llama-tiny-random-4h", "tokenizer.model"))
    link = os.path.join(a.out, "tokenizer.model")
    if not os.path.lexists(link):
        os.symlink(tok, link)
    print(f"{a.out}: {offset / 1e9:.2f} GB of F16 weights, {len(shapes)} tensors")


if __name__ == "__main__":
    main()
