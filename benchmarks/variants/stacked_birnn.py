"""The stacked bidirectional RNN exercise (`manual_stacked_rnn`): correct ways, and mistakes.

Correct, in four styles: the solution (a helper per direction, a loop over the two layers);
each layer's input projection precomputed, the reverse direction run on torch.flip; every
layer and direction written out with a preallocated output; F.linear with h_0 indexed as
2 * layer + direction. Buggy (edits of the solution, each one of
grader/exercises/stacked_birnn.py's catalogued mistakes that shows in any sizes): layer 0's
output returned, h_n in direction-major order, h_0 read in direction-major order, reverse
states stored at the forward index, h_n's reverse rows from the last step, h_0 ignored, layer 1
starting from layer 0's rows of h_0. Raising, in every case: layer 1 fed only the forward half
(H columns against w_ih_l1's 2H), a NameError, an IndexError (h_0[4]).
"""

FUNCTION = "manual_stacked_rnn"

HEADER = ('def manual_stacked_rnn():\n'
          '    """Run the two-layer bidirectional RNN by hand; return (output, h_n)."""\n')

_LAYERS = '''\
        ((w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0), (w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)),
        ((w_ih_l1, b_ih_l1, w_hh_l1, b_hh_l1), (w_r_ih_l1, b_r_ih_l1, w_r_hh_l1, b_r_hh_l1)),
'''

# --- correct variants ----------------------------------------------------------------------

REFERENCE = HEADER + '''\
    L, N, _ = sequence.shape  # sequence: (L, N, I)
    H = w_hh_l0.shape[0]  # same as HIDDEN_SIZE
    dtype = sequence.dtype

    def direction(x, h, w_ih, b_ih, w_hh, b_hh, reverse):
        # x: (L, N, F), h: (N, H) -> every step's state (L, N, H) and the final state (N, H)
        states = [None] * L
        for t in (range(L - 1, -1, -1) if reverse else range(L)):
            h = torch.tanh(x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)  # (N, H)
            states[t] = h
        return torch.stack(states), h

    layers = [  # (forward weights, reverse weights) of each layer
''' + _LAYERS + '''\
    ]
    with torch.no_grad():
        x = sequence  # layer 0 reads the sequence, (L, N, I)
        finals = []
        for layer, (forward_weights, reverse_weights) in enumerate(layers):
            forward, h_forward = direction(x, h_0[2 * layer].to(dtype), *forward_weights,
                                           reverse=False)
            reverse, h_reverse = direction(x, h_0[2 * layer + 1].to(dtype), *reverse_weights,
                                           reverse=True)
            x = torch.cat([forward, reverse], dim=2)  # (L, N, 2H): the next layer's input
            finals += [h_forward, h_reverse]
        output = x  # the last layer's states, (L, N, 2H)
        h_n = torch.stack(finals)  # (4, N, H): l0 forward, l0 reverse, l1 forward, l1 reverse

    assert output.shape == (L, N, 2 * H)
    return output.to(dtype), h_n.to(dtype)
'''

FLIP = HEADER + '''\
    def run(xs, h, w_ih, b_ih, w_hh, b_hh):
        projected = xs @ w_ih.T + b_ih  # every step's input term at once
        states = []
        for x_part in projected:
            h = torch.tanh(x_part + h @ w_hh.T + b_hh)
            states.append(h)
        return torch.stack(states), h

    x, h_n = sequence, []
    with torch.no_grad():
        for layer, (fwd_weights, bwd_weights) in enumerate([
''' + _LAYERS + '''\
        ]):
            fwd, h_fwd = run(x, h_0[2 * layer], *fwd_weights)
            bwd, h_bwd = run(torch.flip(x, dims=[0]), h_0[2 * layer + 1], *bwd_weights)
            x = torch.cat((fwd, torch.flip(bwd, dims=[0])), dim=-1)
            h_n += [h_fwd, h_bwd]
    return x, torch.stack(h_n)
'''

UNROLLED = HEADER + '''\
    L, N, _ = sequence.shape
    H = HIDDEN_SIZE
    layer0 = torch.zeros(L, N, 2 * H)
    output = torch.zeros(L, N, 2 * H)
    h_n = torch.zeros(4, N, H)
    with torch.no_grad():
        h = h_0[0]
        for t in range(L):
            h = torch.tanh(sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T + b_hh_l0)
            layer0[t, :, :H] = h
        h_n[0] = h
        h = h_0[1]
        for t in reversed(range(L)):
            h = torch.tanh(sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + h @ w_r_hh_l0.T + b_r_hh_l0)
            layer0[t, :, H:] = h
        h_n[1] = h
        h = h_0[2]
        for t in range(L):
            h = torch.tanh(layer0[t] @ w_ih_l1.T + b_ih_l1 + h @ w_hh_l1.T + b_hh_l1)
            output[t, :, :H] = h
        h_n[2] = h
        h = h_0[3]
        for t in reversed(range(L)):
            h = torch.tanh(layer0[t] @ w_r_ih_l1.T + b_r_ih_l1 + h @ w_r_hh_l1.T + b_r_hh_l1)
            output[t, :, H:] = h
        h_n[3] = h
    return output, h_n
'''

LINEAR = 'import torch.nn.functional as F\n\n\n' + HEADER + '''\
    weights = [
''' + _LAYERS + '''\
    ]
    L = sequence.shape[0]
    x, finals = sequence, []
    for layer in range(NUM_LAYERS):
        halves = []
        for d in range(D):
            w_ih, b_ih, w_hh, b_hh = weights[layer][d]
            h = h_0[2 * layer + d]
            states = [None] * L
            for t in (range(L) if d == 0 else range(L - 1, -1, -1)):
                h = torch.tanh(F.linear(x[t], w_ih, b_ih) + F.linear(h, w_hh, b_hh))
                states[t] = h
            halves.append(torch.stack(states))
            finals.append(h)
        x = torch.cat(halves, dim=2)
    return x.detach(), torch.stack(finals).detach()
'''

CORRECT = {"reference": REFERENCE, "flip": FLIP, "unrolled": UNROLLED,
           "functional_linear": LINEAR}
CORRECT_WEIGHTS = {"reference": 4, "flip": 2, "unrolled": 2, "functional_linear": 2}

# --- buggy and raising variants: edits of a correct one -------------------------------------

_H0_FORWARD, _H0_REVERSE = "h_0[2 * layer].to(dtype)", "h_0[2 * layer + 1].to(dtype)"
_ZEROS = "torch.zeros(N, H, dtype=dtype)"

# name: (base variant, [(old, new), ...]); every `old` must occur in the base.
BUGGY = {
    "output_of_layer0": ("reference", [
        ("finals = []", "finals, outputs = [], []"),
        ("finals += [h_forward, h_reverse]",
         "finals += [h_forward, h_reverse]\n            outputs.append(x)"),
        ("output = x ", "output = outputs[0] ")]),
    "hn_direction_major": ("reference", [("h_n = torch.stack(finals)",
                                          "h_n = torch.stack(finals[0::2] + finals[1::2])")]),
    "h0_direction_major": ("reference", [(_H0_FORWARD, "h_0[layer].to(dtype)"),
                                         (_H0_REVERSE, "h_0[layer + 2].to(dtype)")]),
    "reverse_at_forward_index": ("reference", [("states[t] = h",
                                                "states[L - 1 - t if reverse else t] = h")]),
    "hn_reverse_from_last_step": ("reference", [("return torch.stack(states), h",
                                                 "return torch.stack(states), states[-1]")]),
    "h0_ignored": ("reference", [(_H0_FORWARD, _ZEROS), (_H0_REVERSE, _ZEROS)]),
    "layer1_starts_from_layer0_h0": ("reference", [(_H0_FORWARD, "h_0[0].to(dtype)"),
                                                   (_H0_REVERSE, "h_0[1].to(dtype)")]),
}

RAISING = {
    "layer1_reads_forward_half": ("reference", [("x = torch.cat([forward, reverse], dim=2)",
                                                 "x = forward")]),
    "name_error": ("reference", [("finals += [h_forward, h_reverse]",
                                  "finals += [h_forward, h_backward]")]),
    "index_error": ("reference", [("h_0[2 * layer + 1]", "h_0[2 * layer + 2]")]),
}
