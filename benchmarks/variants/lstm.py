"""The LSTM exercise (`manual_lstm`): correct ways to write it, and mistakes.

Correct, in four styles: the solution (one matmul per side, chunk); a slice of the weights per
gate; one fused matmul over [x_t, h] with addcmul; the input projection of every step at once
with a hand-written sigmoid into a preallocated output. Buggy (edits of the solution, each one
of grader/exercises/lstm.py's catalogued mistakes): gate blocks read as i, f, o, g; sigmoid on
g; the cell state updated from h; the forget gate on the candidate; h without tanh; b_hh left
out; c_0 ignored; h_n and c_n swapped; c_n after tanh. Raising, in every case: h @ w_hh_l0
without .T (H is never 4H), a NameError, an IndexError.
"""

FUNCTION = "manual_lstm"

HEADER = 'def manual_lstm():\n    """Run the LSTM by hand; return (output, (h_n, c_n))."""\n'

# --- correct variants ----------------------------------------------------------------------

REFERENCE = HEADER + '''\
    L, N, _ = sequence.shape  # sequence: (L, N, I)
    H = w_hh_l0.shape[1]  # same as HIDDEN_SIZE; w_hh_l0 is (4H, H)
    dtype = sequence.dtype

    with torch.no_grad():
        h = h_0[0].to(dtype)  # (N, H)
        c = c_0[0].to(dtype)  # (N, H)
        states = []
        for t in range(L):
            z = sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T + b_hh_l0  # (N, 4H)
            z_i, z_f, z_g, z_o = z.chunk(4, dim=1)  # PyTorch's order i, f, g, o
            i = torch.sigmoid(z_i)
            f = torch.sigmoid(z_f)
            g = torch.tanh(z_g)
            o = torch.sigmoid(z_o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            states.append(h)
        output = torch.stack(states)  # (L, N, H)
        h_n = h.unsqueeze(0)  # (1, N, H)
        c_n = c.unsqueeze(0)  # (1, N, H)
    return output, (h_n, c_n)
'''

PER_GATE = HEADER + '''\
    H = HIDDEN_SIZE
    weights = {}
    for k, gate in enumerate("ifgo"):
        rows = slice(k * H, (k + 1) * H)
        weights[gate] = (w_ih_l0[rows], b_ih_l0[rows], w_hh_l0[rows], b_hh_l0[rows])

    def pre_activation(gate, x_t, h):
        w_ih, b_ih, w_hh, b_hh = weights[gate]
        return x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh

    h, c = h_0[0], c_0[0]
    outputs = []
    for x_t in sequence:
        i = torch.sigmoid(pre_activation("i", x_t, h))
        f = torch.sigmoid(pre_activation("f", x_t, h))
        g = torch.tanh(pre_activation("g", x_t, h))
        o = torch.sigmoid(pre_activation("o", x_t, h))
        c = f * c + i * g
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs).detach(), (h.unsqueeze(0).detach(), c.unsqueeze(0).detach())
'''

FUSED = HEADER + '''\
    H = w_hh_l0.shape[1]
    weight = torch.cat([w_ih_l0, w_hh_l0], dim=1)  # (4H, I + H)
    bias = b_ih_l0 + b_hh_l0
    with torch.no_grad():
        h, c = h_0[0], c_0[0]
        hs = []
        for t in range(sequence.shape[0]):
            z = torch.cat([sequence[t], h], dim=1) @ weight.T + bias  # (N, 4H)
            i, f = torch.sigmoid(z[:, :H]), torch.sigmoid(z[:, H:2 * H])
            g, o = torch.tanh(z[:, 2 * H:3 * H]), torch.sigmoid(z[:, 3 * H:])
            c = torch.addcmul(i * g, f, c)
            h = o * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs), (h[None], c[None])
'''

HOISTED = HEADER + '''\
    def sigmoid(v):
        return 1 / (1 + torch.exp(-v))

    L, N, _ = sequence.shape
    with torch.no_grad():
        projected = sequence @ w_ih_l0.T + b_ih_l0  # every step's input term, (L, N, 4H)
        h, c = h_0[0].clone(), c_0[0].clone()
        output = torch.empty(L, N, h.shape[1], dtype=sequence.dtype)
        for t, x_part in enumerate(projected):
            i, f, g, o = (x_part + h @ w_hh_l0.T + b_hh_l0).chunk(4, dim=1)
            c = sigmoid(f) * c + sigmoid(i) * torch.tanh(g)
            h = sigmoid(o) * torch.tanh(c)
            output[t] = h
    return output, (h.unsqueeze(0), c.unsqueeze(0))
'''

CORRECT = {"reference": REFERENCE, "per_gate": PER_GATE, "fused": FUSED, "hoisted": HOISTED}
CORRECT_WEIGHTS = {"reference": 4, "per_gate": 2, "fused": 2, "hoisted": 2}

# --- buggy and raising variants: edits of a correct one -------------------------------------

# name: (base variant, [(old, new), ...]); every `old` must occur in the base.
BUGGY = {
    "gate_order_ifog": ("reference", [("z_i, z_f, z_g, z_o = z", "z_i, z_f, z_o, z_g = z")]),
    "g_sigmoid": ("reference", [("g = torch.tanh(z_g)", "g = torch.sigmoid(z_g)")]),
    "cell_from_h": ("reference", [("c = f * c + i * g", "c = f * h + i * g")]),
    "forget_on_input": ("reference", [("c = f * c + i * g", "c = f * g + i * c")]),
    "h_without_tanh": ("reference", [("h = o * torch.tanh(c)", "h = o * c")]),
    "missing_b_hh": ("reference", [("h @ w_hh_l0.T + b_hh_l0", "h @ w_hh_l0.T")]),
    "c0_ignored": ("reference", [("c = c_0[0].to(dtype)", "c = torch.zeros(N, H, dtype=dtype)")]),
    "states_swapped": ("reference", [("return output, (h_n, c_n)", "return output, (c_n, h_n)")]),
    "c_n_after_tanh": ("reference", [("c_n = c.unsqueeze(0)", "c_n = torch.tanh(c).unsqueeze(0)")]),
}

RAISING = {
    "shape_error": ("reference", [("h @ w_hh_l0.T", "h @ w_hh_l0")]),
    "name_error": ("reference", [("states.append(h)", "states.append(h_t)")]),
    "index_error": ("reference", [("for t in range(L):", "for t in range(L + 1):")]),
}
