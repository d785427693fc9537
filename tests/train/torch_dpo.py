"""The DPO oracle: TRL's sigmoid DPO loss over torch_llama.py's llama, differentiated by autograd.

  torch_dpo.py DIR   reads DIR/config.json ({"shape", "tensors", "B", "T", "beta"}),
                     DIR/policy.bin and DIR/ref.bin (float32, the trainer's flat layout),
                     DIR/batch.bin (int32 [2 x 2B x T]: tokens, then targets; row i is
                     pair i's chosen sequence, row B + i its rejected one) and DIR/mask.bin
                     (uint8 [2B x T], 1 where the target is a completion token); writes,
                     in float64:
                       loss.bin   the loss
                       logps.bin  log pi of the 2B rows, then log ref of them
                       grads.bin  d(loss)/d(policy), in the flat layout

The loss follows trl.DPOTrainer.dpo_loss with loss_type="sigmoid", label_smoothing=0.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_llama import forward  # noqa: E402


def params(cfg, path, grad):
    flat = torch.from_numpy(np.fromfile(path, dtype="float32")).to(torch.float64)
    P = {}
    for t in cfg["tensors"]:
        shape = (t["cols"],) if t["rows"] == 1 else (t["rows"], t["cols"])
        P[t["name"]] = flat[t["offset"]:t["offset"] + t["rows"] * t["cols"]].clone().view(shape).requires_grad_(grad)
    return P, flat.numel()


def sequence_logps(P, s, tokens, targets, mask):
    logp = forward(P, s, tokens).log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (logp * mask).sum(-1)


def main(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    s, B, T, beta = cfg["shape"], cfg["B"], cfg["T"], cfg["beta"]
    policy, n = params(cfg, os.path.join(d, "policy.bin"), True)
    ref, _ = params(cfg, os.path.join(d, "ref.bin"), False)
    ids = torch.from_numpy(np.fromfile(os.path.join(d, "batch.bin"), dtype="int32").astype("int64")).view(2, 2 * B, T)
    mask = torch.from_numpy(np.fromfile(os.path.join(d, "mask.bin"), dtype="uint8").astype("float64")).view(2 * B, T)

    pi = sequence_logps(policy, s, ids[0], ids[1], mask)
    with torch.no_grad():
        rf = sequence_logps(ref, s, ids[0], ids[1], mask)
    pi_logratios = pi[:B] - pi[B:]
    ref_logratios = rf[:B] - rf[B:]
    logits = pi_logratios - ref_logratios
    loss = (-F.logsigmoid(beta * logits)).mean()
    loss.backward()

    np.array([loss.item()], dtype="float64").tofile(os.path.join(d, "loss.bin"))
    torch.cat([pi.detach(), rf]).numpy().tofile(os.path.join(d, "logps.bin"))
    out = torch.zeros(n, dtype=torch.float64)
    for t in cfg["tensors"]:
        out[t["offset"]:t["offset"] + t["rows"] * t["cols"]] = policy[t["name"]].grad.reshape(-1)
    out.numpy().tofile(os.path.join(d, "grads.bin"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
