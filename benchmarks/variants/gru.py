"""The GRU exercise (`manual_gru`): correct ways to write it, and mistakes.

Correct, in four styles: the solution (weights chunked per gate); one matmul per side, then
chunk, sigmoid written as 1 / (1 + exp(-a)) and the update as torch.lerp; F.linear per gate;
the input projection of every step at once into a preallocated output. Buggy (edits of the
solution, each one of grader/exercises/gru.py's catalogued mistakes): r applied after b_hn, r
applied to h before W_hn, z and 1 - z swapped, r and z rows swapped, sigmoid for n, b_hh left
out, h_0 ignored, h_n after the first step. Raising, in every case: the whole w_hh_l0 in a
gate (3H columns against H), a NameError, an IndexError.
"""

FUNCTION = "manual_gru"

HEADER = 'def manual_gru():\n    """Run the GRU by hand; return (output, h_n)."""\n'

# --- correct variants ----------------------------------------------------------------------

REFERENCE = HEADER + '''\
    L, N, _ = sequence.shape  # sequence: (L, N, I)
    H = w_hh_l0.shape[1]  # same as HIDDEN_SIZE
    dtype = sequence.dtype

    # Each tensor holds the three gates one after another, in the order r, z, n.
    w_ir, w_iz, w_in = w_ih_l0.chunk(3)  # each (H, I)
    w_hr, w_hz, w_hn = w_hh_l0.chunk(3)  # each (H, H)
    b_ir, b_iz, b_in = b_ih_l0.chunk(3)  # each (H,)
    b_hr, b_hz, b_hn = b_hh_l0.chunk(3)  # each (H,)

    with torch.no_grad():
        h = h_0[0].to(dtype)  # (N, H)
        states = []
        for t in range(L):
            x_t = sequence[t]  # (N, I)
            r = torch.sigmoid(x_t @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
            z = torch.sigmoid(x_t @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
            n = torch.tanh(x_t @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
            h = (1 - z) * n + z * h
            states.append(h)
        output = torch.stack(states)  # (L, N, H)
        h_n = h.unsqueeze(0)  # (1, N, H)
    return output, h_n
'''

LERP = HEADER + '''\
    h = h_0[0]
    states = []
    with torch.no_grad():
        for x in sequence:
            i_r, i_z, i_n = (x @ w_ih_l0.T + b_ih_l0).chunk(3, dim=1)
            h_r, h_z, h_n = (h @ w_hh_l0.T + b_hh_l0).chunk(3, dim=1)
            r = 1 / (1 + torch.exp(-(i_r + h_r)))
            z = 1 / (1 + torch.exp(-(i_z + h_z)))
            n = torch.tanh(i_n + r * h_n)
            h = torch.lerp(n, h, z)  # n + z * (h - n)
            states.append(h)
    return torch.stack(states), h[None]
'''

LINEAR = 'import torch.nn.functional as F\n\n\n' + HEADER + '''\
    H = HIDDEN_SIZE
    gates = {}
    for k, gate in enumerate("rzn"):
        rows = slice(k * H, (k + 1) * H)
        gates[gate] = (w_ih_l0[rows], b_ih_l0[rows], w_hh_l0[rows], b_hh_l0[rows])

    h = h_0[0]
    outputs = []
    for x_t in sequence:
        w_i, b_i, w_h, b_h = gates["r"]
        r = torch.sigmoid(F.linear(x_t, w_i, b_i) + F.linear(h, w_h, b_h))
        w_i, b_i, w_h, b_h = gates["z"]
        z = torch.sigmoid(F.linear(x_t, w_i, b_i) + F.linear(h, w_h, b_h))
        w_i, b_i, w_h, b_h = gates["n"]
        n = torch.tanh(F.linear(x_t, w_i, b_i) + r * F.linear(h, w_h, b_h))
        h = (1 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs).detach(), h.unsqueeze(0).detach()
'''

HOISTED = HEADER + '''\
    L, N, _ = sequence.shape
    H = w_hh_l0.shape[1]
    with torch.no_grad():
        projected = sequence @ w_ih_l0.T + b_ih_l0  # every step's input terms, (L, N, 3H)
        output = torch.zeros(L, N, H, dtype=sequence.dtype)
        h = h_0[0].clone()
        for t in range(L):
            hidden = h @ w_hh_l0.T + b_hh_l0  # (N, 3H)
            r = torch.sigmoid(projected[t, :, :H] + hidden[:, :H])
            z = torch.sigmoid(projected[t, :, H:2 * H] + hidden[:, H:2 * H])
            n = torch.tanh(projected[t, :, 2 * H:] + r * hidden[:, 2 * H:])
            h = (1 - z) * n + z * h
            output[t] = h
        h_n = output[-1:].clone()
    return output, h_n
'''

CORRECT = {"reference": REFERENCE, "lerp": LERP, "functional_linear": LINEAR,
           "hoisted": HOISTED}
CORRECT_WEIGHTS = {"reference": 4, "lerp": 2, "functional_linear": 2, "hoisted": 2}

# --- buggy and raising variants: edits of a correct one -------------------------------------

# name: (base variant, [(old, new), ...]); every `old` must occur in the base.
BUGGY = {
    "reset_after_bias": ("reference", [("r * (h @ w_hn.T + b_hn)", "r * (h @ w_hn.T) + b_hn")]),
    "reset_on_h": ("reference", [("r * (h @ w_hn.T + b_hn)", "(r * h) @ w_hn.T + b_hn")]),
    "update_swapped": ("reference", [("h = (1 - z) * n + z * h", "h = z * n + (1 - z) * h")]),
    "r_z_swapped": ("reference", [("w_ir, w_iz, w_in =", "w_iz, w_ir, w_in ="),
                                  ("w_hr, w_hz, w_hn =", "w_hz, w_hr, w_hn ="),
                                  ("b_ir, b_iz, b_in =", "b_iz, b_ir, b_in ="),
                                  ("b_hr, b_hz, b_hn =", "b_hz, b_hr, b_hn =")]),
    "n_with_sigmoid": ("reference", [("n = torch.tanh(", "n = torch.sigmoid(")]),
    "missing_b_hh": ("reference", [("h @ w_hr.T + b_hr", "h @ w_hr.T"),
                                   ("h @ w_hz.T + b_hz", "h @ w_hz.T"),
                                   ("(h @ w_hn.T + b_hn)", "(h @ w_hn.T)")]),
    "h0_ignored": ("reference", [("h = h_0[0].to(dtype)", "h = torch.zeros(N, H, dtype=dtype)")]),
    "hn_first_step": ("reference", [("h_n = h.unsqueeze(0)", "h_n = output[:1]")]),
}

RAISING = {
    "shape_error": ("reference", [("h @ w_hr.T", "h @ w_hh_l0.T")]),
    "name_error": ("reference", [("states.append(h)", "states.append(h_t)")]),
    "index_error": ("reference", [("for t in range(L):", "for t in range(L + 1):")]),
}
