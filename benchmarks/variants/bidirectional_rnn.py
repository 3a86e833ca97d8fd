"""The bidirectional RNN exercise (`manual_rnn`): correct ways to write it, and mistakes.

Correct, in five styles: the solution; a precomputed input projection with torch.flip; a
preallocated output with addmm; F.linear over a loop of directions; einsum with both directions
in one loop. Buggy (edits of a correct one): halves swapped, relu instead of tanh, b_hh missing,
h_0 ignored, reverse states not put back in time order, forward weights used in reverse,
h_n[1] taken at the wrong step, torch.flip not undone. Raising: a shape error (I differs from H
in every case), a NameError, an IndexError.
"""

FUNCTION = "manual_rnn"

HEADER = 'def manual_rnn():\n    """Run the bidirectional RNN by hand; return (output, h_n)."""\n'

# --- correct variants ----------------------------------------------------------------------

REFERENCE = HEADER + '''\
    L, N, _ = sequence.shape  # sequence: (L, N, I)
    H = w_hh_l0.shape[0]  # same as HIDDEN_SIZE
    dtype = sequence.dtype

    def step(x_t, h_prev, w_ih, b_ih, w_hh, b_hh):
        # x_t: (N, I), h_prev: (N, H) -> new hidden state (N, H)
        return torch.tanh(x_t @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)

    with torch.no_grad():
        h = h_0[0].to(dtype)  # (N, H)
        forward_states = []
        for t in range(L):
            h = step(sequence[t], h, w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)
            forward_states.append(h)
        h_forward_last = h

        h = h_0[1].to(dtype)  # (N, H)
        reverse_states = [None] * L
        for t in range(L - 1, -1, -1):
            h = step(sequence[t], h, w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)
            reverse_states[t] = h
        h_reverse_last = h

        forward = torch.stack(forward_states)  # (L, N, H)
        reverse = torch.stack(reverse_states)  # (L, N, H)
        output = torch.cat([forward, reverse], dim=2)  # (L, N, 2H)
        h_n = torch.stack([h_forward_last, h_reverse_last])  # (2, N, H)

    assert output.shape == (L, N, 2 * H)
    return output.to(dtype), h_n.to(dtype)
'''

FLIP = HEADER + '''\
    def run(xs, h, w_ih, b_ih, w_hh, b_hh):
        projected = xs @ w_ih.T + b_ih  # (L, N, H): every input term at once
        states = []
        for x_part in projected:
            h = torch.tanh(x_part + h @ w_hh.T + b_hh)
            states.append(h)
        return torch.stack(states), h

    with torch.no_grad():
        fwd, h_fwd = run(sequence, h_0[0], w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)
        bwd, h_bwd = run(torch.flip(sequence, dims=[0]), h_0[1],
                         w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)
        bwd = torch.flip(bwd, dims=[0])  # back to time order
    return torch.cat((fwd, bwd), dim=-1), torch.stack((h_fwd, h_bwd))
'''

PREALLOCATED = HEADER + '''\
    L, N, _ = sequence.shape
    H = HIDDEN_SIZE
    output = torch.zeros(L, N, 2 * H, dtype=sequence.dtype)
    h_n = torch.zeros(2, N, H, dtype=sequence.dtype)
    with torch.no_grad():
        h = h_0[0].clone()
        for t in range(L):
            h = torch.tanh(torch.addmm(b_ih_l0, sequence[t], w_ih_l0.t())
                           + torch.addmm(b_hh_l0, h, w_hh_l0.t()))
            output[t, :, :H] = h
        h_n[0] = h
        h = h_0[1].clone()
        for t in reversed(range(L)):
            h = torch.tanh(torch.addmm(b_r_ih_l0, sequence[t], w_r_ih_l0.t())
                           + torch.addmm(b_r_hh_l0, h, w_r_hh_l0.t()))
            output[t, :, H:] = h
        h_n[1] = h
    return output, h_n
'''

LINEAR = 'import torch.nn.functional as F\n\n\n' + HEADER + '''\
    directions = [(w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)]
    if BIDERECTIONAL:
        directions.append((w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0))
    L = sequence.shape[0]
    outputs, finals = [], []
    for d, (w_ih, b_ih, w_hh, b_hh) in enumerate(directions):
        steps = range(L) if d == 0 else range(L - 1, -1, -1)
        h = h_0[d]
        states = []
        for t in steps:
            h = torch.tanh(F.linear(sequence[t], w_ih, b_ih) + F.linear(h, w_hh, b_hh))
            states.append(h)
        if d == 1:
            states = states[::-1]
        outputs.append(torch.stack(states))
        finals.append(h)
    return torch.cat(outputs, dim=2).detach(), torch.stack(finals).detach()
'''

EINSUM = HEADER + '''\
    L = sequence.shape[0]
    fwd_states, bwd_states = [], []
    h_f, h_b = h_0[0], h_0[1]
    for t in range(L):
        h_f = torch.tanh(torch.einsum("ni,hi->nh", sequence[t], w_ih_l0) + b_ih_l0
                         + torch.einsum("nk,hk->nh", h_f, w_hh_l0) + b_hh_l0)
        fwd_states.append(h_f)
        s = L - 1 - t
        h_b = torch.tanh(torch.einsum("ni,hi->nh", sequence[s], w_r_ih_l0) + b_r_ih_l0
                         + torch.einsum("nk,hk->nh", h_b, w_r_hh_l0) + b_r_hh_l0)
        bwd_states.insert(0, h_b)
    output = torch.cat([torch.stack(fwd_states), torch.stack(bwd_states)], dim=2)
    h_n = torch.stack([h_f, h_b])
    return output.detach(), h_n.detach()
'''

CORRECT = {"reference": REFERENCE, "flip": FLIP, "preallocated": PREALLOCATED,
           "functional_linear": LINEAR, "einsum": EINSUM}
CORRECT_WEIGHTS = {"reference": 4, "flip": 2, "preallocated": 2, "functional_linear": 1,
                   "einsum": 1}

# --- buggy and raising variants: edits of a correct one -------------------------------------

_FORWARD_WEIGHTS = "w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)"
_REVERSE_WEIGHTS = "w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)"

# name: (base variant, [(old, new), ...]); every `old` must occur in the base.
BUGGY = {
    "halves_swapped": ("reference", [("torch.cat([forward, reverse]",
                                      "torch.cat([reverse, forward]")]),
    "relu_not_tanh": ("reference", [("torch.tanh(", "torch.relu(")]),
    "missing_b_hh": ("reference", [("h_prev @ w_hh.T + b_hh)", "h_prev @ w_hh.T)")]),
    "h0_ignored": ("reference", [("h = h_0[0].to(dtype)", "h = torch.zeros(N, H, dtype=dtype)"),
                                 ("h = h_0[1].to(dtype)", "h = torch.zeros(N, H, dtype=dtype)")]),
    "reverse_not_reordered": ("reference", [("reverse_states[t] = h",
                                             "reverse_states[L - 1 - t] = h")]),
    "forward_weights_in_reverse": ("reference", [("h, " + _REVERSE_WEIGHTS,
                                                  "h, " + _FORWARD_WEIGHTS)]),
    "hn_reverse_wrong_step": ("reference", [("h_reverse_last = h",
                                             "h_reverse_last = reverse_states[-1]")]),
    "flip_not_undone": ("flip", [("        bwd = torch.flip(bwd, dims=[0])  # back to time order\n",
                                  "")]),
    "relu_preallocated": ("preallocated", [("torch.tanh(", "torch.relu(")]),
}

RAISING = {
    "shape_error": ("reference", [("x_t @ w_ih.T", "x_t @ w_ih")]),
    "name_error": ("reference", [("h_forward_last = h\n", "h_forward_last = h_last\n")]),
    "index_error": ("reference", [("for t in range(L - 1, -1, -1)", "for t in range(L, -1, -1)")]),
}
