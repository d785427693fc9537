#!/usr/bin/python3
"""Derives the IQ1/IQ2/IQ3 codebooks ("grids") from ggml's own outputs.

The IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S formats store
indices into fixed codebooks of 4- or 8-element vectors. The codebooks are
part of the format, not something one can compute. Instead of copying them
from ggml's source, this script recovers every entry from the golden data in
../shared/golden/quant: for each block ggml quantized, the dequantized floats
ggml produced equal (block scale) x (codebook entry) x (sign) [+ delta for
IQ1], so each entry is the dequantized value divided by the scale. Every
entry is seen many times; all sightings must agree, and every entry must be
seen (the golden cases cover all 256/512/1024/2048 indices).

Writes src/quant/iq_grids.cpp. Run: scripts/extract-iq-grids.py [SHARED_DIR]
Needs Debian's python3-numpy (/usr/bin/python3).
"""
import os
import sys

import numpy as np

SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'shared')
GOLDEN = os.path.join(SHARED, 'golden', 'quant')
OUT = os.path.join(os.path.dirname(__file__), '..', 'src', 'quant', 'iq_grids.cpp')
F16 = np.float16


def blocks(type_name, bytes_per_block):
    """Yields (block bytes, 256 dequantized floats) for every golden block of a type."""
    for case in sorted(os.listdir(GOLDEN)):
        for suffix in ('', '.imat'):
            q = os.path.join(GOLDEN, case, f'{type_name}{suffix}.q')
            if not os.path.exists(q):
                continue
            qb = np.fromfile(q, dtype=np.uint8).reshape(-1, bytes_per_block)
            deq = np.fromfile(os.path.join(GOLDEN, case, f'{type_name}{suffix}.deq.f32'), dtype=np.float32).reshape(-1, 256)
            yield from zip(qb, deq)


def half(b, at):
    return float(np.frombuffer(bytes(b[at:at + 2]), dtype=F16)[0])


def u16(b, at):
    return int(b[at]) | int(b[at + 1]) << 8


def u32(b, at):
    return u16(b, at) | u16(b, at + 2) << 16


class Grid:
    def __init__(self, name, size, width):
        self.name, self.size, self.width = name, size, width
        self.entries = {}

    def see(self, index, values):
        v = tuple(int(x) for x in values)
        old = self.entries.setdefault(index, v)
        if old != v:
            raise SystemExit(f'{self.name}[{index}]: inconsistent sightings {old} vs {v}')

    def check_complete(self):
        missing = [i for i in range(self.size) if i not in self.entries]
        if missing:
            raise SystemExit(f'{self.name}: entries never seen: {missing[:10]}...')


def recover(y, scale, signs=None, delta=0.0):
    """Codebook values from dequantized floats: y = scale * g * sign (+ scale * delta)."""
    g = np.asarray(y, dtype=np.float64) / scale - delta
    if signs is not None:
        g = g * signs
    r = np.rint(g)
    if np.max(np.abs(g - r)) > 1e-3:
        raise SystemExit(f'non-integer codebook value {g}')
    return r


def sign_bits(byte, n=8):
    return np.array([-1.0 if (byte >> j) & 1 else 1.0 for j in range(n)])


def ksigns(i):  # 7 stored sign bits; the 8th makes the count of negatives even
    return i | ((bin(i).count('1') & 1) << 7)


def iq2_xxs(grid):
    for b, y in blocks('IQ2_XXS', 66):
        d = half(b, 0)
        for ib in range(8):
            a0, a1 = u32(b, 2 + 8 * ib), u32(b, 6 + 8 * ib)
            db = np.float32(d) * np.float32(0.5 + (a1 >> 28)) * np.float32(0.25)
            if db == 0:
                continue
            for l in range(4):
                s = sign_bits(ksigns((a1 >> (7 * l)) & 127))
                grid.see((a0 >> (8 * l)) & 255, recover(y[32 * ib + 8 * l:32 * ib + 8 * l + 8], db, s))


def iq2_xs(grid):
    for b, y in blocks('IQ2_XS', 74):
        d = half(b, 0)
        for ib in range(8):
            sc = b[66 + ib]
            for l in range(4):
                q = u16(b, 2 + 2 * (4 * ib + l))
                db = np.float32(d) * np.float32(0.5 + ((sc >> (4 * (l // 2))) & 15)) * np.float32(0.25)
                if db == 0:
                    continue
                grid.see(q & 511, recover(y[32 * ib + 8 * l:32 * ib + 8 * l + 8], db, sign_bits(ksigns(q >> 9))))


def iq2_s(grid):
    for b, y in blocks('IQ2_S', 82):
        d = half(b, 0)
        for ib in range(8):
            sc, qh = b[74 + ib], b[66 + ib]
            for l in range(4):
                db = np.float32(d) * np.float32(0.5 + ((sc >> (4 * (l // 2))) & 15)) * np.float32(0.25)
                if db == 0:
                    continue
                index = int(b[2 + 4 * ib + l]) | ((int(qh) << (8 - 2 * l)) & 0x300)
                grid.see(index, recover(y[32 * ib + 8 * l:32 * ib + 8 * l + 8], db, sign_bits(b[34 + 4 * ib + l])))


def iq3_xxs(grid):
    for b, y in blocks('IQ3_XXS', 98):
        d = half(b, 0)
        for ib in range(8):
            a = u32(b, 66 + 4 * ib)
            db = np.float32(d) * np.float32(0.5 + (a >> 28)) * np.float32(0.5)
            if db == 0:
                continue
            for l in range(4):
                s = sign_bits(ksigns((a >> (7 * l)) & 127))
                vals = recover(y[32 * ib + 8 * l:32 * ib + 8 * l + 8], db, s)
                grid.see(int(b[2 + 8 * ib + 2 * l]), vals[:4])
                grid.see(int(b[2 + 8 * ib + 2 * l + 1]), vals[4:])


def iq3_s(grid):
    for b, y in blocks('IQ3_S', 110):
        d = half(b, 0)
        for ib in range(8):
            sc = b[106 + ib // 2]
            db = np.float32(d) * np.float32(1 + 2 * ((sc >> (4 * (ib % 2))) & 15))
            if db == 0:
                continue
            qh = int(b[66 + ib])
            for l in range(4):
                vals = recover(y[32 * ib + 8 * l:32 * ib + 8 * l + 8], db, sign_bits(b[74 + 4 * ib + l]))
                grid.see(int(b[2 + 8 * ib + 2 * l]) | ((qh << (8 - 2 * l)) & 256), vals[:4])
                grid.see(int(b[2 + 8 * ib + 2 * l + 1]) | ((qh << (7 - 2 * l)) & 256), vals[4:])


IQ1_DELTA = 0.125


def iq1_s(grid):
    for b, y in blocks('IQ1_S', 50):
        d = half(b, 0)
        for ib in range(8):
            qh = u16(b, 34 + 2 * ib)
            dl = np.float32(d) * np.float32(2 * ((qh >> 12) & 7) + 1)
            if dl == 0:
                continue
            delta = -IQ1_DELTA if qh & 0x8000 else IQ1_DELTA
            for l in range(4):
                index = int(b[2 + 4 * ib + l]) | (((qh >> (3 * l)) & 7) << 8)
                grid.see(index, recover(y[32 * ib + 8 * l:32 * ib + 8 * l + 8], dl, None, delta))


def iq1_m(grid):
    for b, y in blocks('IQ1_M', 56):
        sc = [u16(b, 48 + 2 * i) for i in range(4)]
        bits = (sc[0] >> 12) | ((sc[1] >> 8) & 0xF0) | ((sc[2] >> 4) & 0xF00) | (sc[3] & 0xF000)
        d = float(np.frombuffer(np.uint16(bits).tobytes(), dtype=F16)[0])
        for ib in range(8):
            s = sc[ib // 2] >> (6 * (ib % 2))
            dls = [np.float32(d) * np.float32(2 * (s & 7) + 1), np.float32(d) * np.float32(2 * ((s >> 3) & 7) + 1)]
            qh = [int(b[32 + 2 * ib]), int(b[33 + 2 * ib])]
            for l in range(4):
                dl = dls[l // 2]
                if dl == 0:
                    continue
                h = qh[l // 2]
                index = int(b[4 * ib + l]) | ((h << (8 if l % 2 == 0 else 4)) & 0x700)
                delta = -IQ1_DELTA if h & (0x08 if l % 2 == 0 else 0x80) else IQ1_DELTA
                grid.see(index, recover(y[32 * ib + 8 * l:32 * ib + 8 * l + 8], dl, None, delta))


def main():
    grids = [
        (Grid('iq2xxs_grid', 256, 8), [iq2_xxs], 'uint8_t'),
        (Grid('iq2xs_grid', 512, 8), [iq2_xs], 'uint8_t'),
        (Grid('iq2s_grid', 1024, 8), [iq2_s], 'uint8_t'),
        (Grid('iq3xxs_grid', 256, 4), [iq3_xxs], 'uint8_t'),
        (Grid('iq3s_grid', 512, 4), [iq3_s], 'uint8_t'),
        (Grid('iq1s_grid', 2048, 8), [iq1_s, iq1_m], 'int8_t'),
    ]
    out = ['// Generated by scripts/extract-iq-grids.py from ggml\'s golden outputs in',
           '// ../shared/golden/quant -- do not edit. See iq_grids.h.',
           '#include "quant/iq_grids.h"', '', 'namespace qkv::quant {', '']
    for grid, readers, ctype in grids:
        for read in readers:
            read(grid)
        grid.check_complete()
        out.append(f'const {ctype} {grid.name}[{grid.size}][{grid.width}] = {{')
        per_line = 32 // grid.width
        for i in range(0, grid.size, per_line):
            row = ['{' + ', '.join(str(v) for v in grid.entries[k]) + '}' for k in range(i, i + per_line)]
            out.append('    ' + ', '.join(row) + ',')
        out.append('};')
        out.append('')
    out.append('}  // namespace qkv::quant')
    with open(OUT, 'w') as f:
        f.write('\n'.join(out) + '\n')
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
