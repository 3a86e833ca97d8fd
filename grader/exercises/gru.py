"""The GRU exercise: names, sizes, cases, reference, rounding bound, shapes and mistakes.

Students complete `manual_gru()`, which reads the notebook's globals and returns
`(output, h_n)` exactly as `nn.GRU(I, H)(sequence, h_0)` would. Shapes: L time steps, N
sequences in the batch, I input features, H hidden features. Each weight holds the three gates'
rows one after another, in PyTorch's order r, z, n:

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update gate
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))       candidate state
    h' = (1 - z) * n + z * h
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from grader.exercises.base import Arrays, Exercise, Mistake, Sizes
from grader.exercises.plans import draw_inputs, one_layer_case_plans
from grader.exercises.rounding import (
    UNIT_ROUNDOFF_F32,
    gamma,
    largest_slope,
    sigmoid,
    sigmoid_slope,
    tanh_slope,
)
from grader.exercises.shapes import UNKNOWN_SHAPE, describe_sizes, hardcoded_sizes, sizes_of
from grader.exercises.torch_modules import loaded_module, notebook_globals, torch_reference

WEIGHTS = {  # notebook global -> nn.GRU parameter
    "w_ih_l0": "weight_ih_l0",  # (3H, I): rows r, z, n
    "w_hh_l0": "weight_hh_l0",  # (3H, H)
    "b_ih_l0": "bias_ih_l0",  # (3H,)
    "b_hh_l0": "bias_hh_l0",  # (3H,)
}
GATES = ("r", "z", "n")  # the order of the rows of every weight and bias
NOTEBOOK_SIZES = {"L": 5, "N": 3, "I": 4, "H": 6}
GATE_ULPS = 4.0  # float32 sigmoid and tanh, however written, are within a few ulps of 1
COMBINE_ULPS = 4.0  # (1 - z) * n + z * h, or n + z * (h - n): three roundings at most


# --- Cases -----------------------------------------------------------------------------------

CASE_PLANS = one_layer_case_plans(NOTEBOOK_SIZES)


def make_inputs(sizes: Sizes, seed: int, zero_h0: bool) -> Arrays:
    """Weights drawn like nn.GRU's own initialisation, a normal sequence and h_0; float32."""
    hidden, inputs = sizes["H"], sizes["I"]
    shapes = {"w_ih_l0": (3 * hidden, inputs), "w_hh_l0": (3 * hidden, hidden),
              "b_ih_l0": (3 * hidden,), "b_hh_l0": (3 * hidden,)}
    return draw_inputs(seed, sizes, {name: shapes[name] for name in WEIGHTS}, {"h_0": 1},
                       zero_h0)


# --- Reference and rounding bound (grading process) ----------------------------------------

def reference(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """nn.GRU itself, in float64, on the case's float32 values: (L, N, H), (1, N, H)."""
    return torch_reference("GRU", inputs, WEIGHTS)


def _gates(inputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The weights and biases in float64, each as its r, z, n blocks: (3, H, ...)."""
    return tuple(inputs[name].astype(np.float64).reshape(3, -1, *inputs[name].shape[1:])
                 for name in WEIGHTS)


def rounding_bound(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """Component-wise bound on the rounding error of any float32 evaluation of the GRU.

    Walks the recurrence in float64 with e_t, a bound on |computed h_t - h_t| (e = 0 at h_0).
    u = 2^-24; gamma_n = n u / (1 - n u) bounds a sum of n terms in any order, each product
    rounded once: |error| <= gamma_n * sum|terms| (Higham, Accuracy and Stability, 3.1). The
    terms hold the computed h, so |h| + e stands for |h|, and W e carries e forward.

    * r, z: I + H + 2 terms each: eps = gamma_{I+H+2} (|W_i||x| + |b_i| + |W_h|(|h| + e)
      + |b_h|) + |W_h| e. sigmoid is monotone with slope s(1 - s) <= 1/4, so the gate moves by
      at most eps times the largest slope within eps; GATE_ULPS u more for sigmoid itself.
    * n: g = W_hn h + b_hn (H + 1 terms) is off by eps_g = gamma_{H+1}(...) + |W_hn| e; the
      product r * g by e_r (|g| + eps_g) + |r| eps_g, plus one rounding u |r g|; adding it to
      the I + 1 input terms: gamma_{I+2} over all of them. tanh: slope 1 - tanh^2 <= 1, likewise.
    * h' = (1 - z) n + z h = n + z (h - n): with computed z, n, h, exactly
      h'^ - h' = (1 - z^) dn + z^ dh + dz (h - n), so
      e' = (1 - z + e_z) e_n + (z + e_z) e + |h - n| e_z, plus COMBINE_ULPS u (|n| + |h|) (with
      their errors) for the three roundings of either formulation (or torch.lerp).

    Every bound is a worst case over summation orders (per-gate matmuls, one fused matmul then
    chunk, nn.GRU's own kernel), so the result holds for any of them.
    """
    sizes = sizes_of(inputs)
    unit = UNIT_ROUNDOFF_F32
    (w_ir, w_iz, w_in), (w_hr, w_hz, w_hn), (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = \
        _gates(inputs)
    x = inputs["sequence"].astype(np.float64)  # (L, N, I)
    h = inputs["h_0"][0].astype(np.float64)  # (N, H)
    error = np.zeros_like(h)  # (N, H)
    bounds = np.zeros((sizes["L"], sizes["N"], sizes["H"]))  # (L, N, H)
    gamma_gate = gamma(sizes["I"] + sizes["H"] + 2)
    for t in range(sizes["L"]):
        x_t, size = x[t], np.abs(x[t])  # (N, I)
        held = np.abs(h) + error  # (N, H): what the computed h can be at most
        gate_values, gate_errors = [], []
        for w_i, b_i, w_h, b_h in ((w_ir, b_ir, w_hr, b_hr), (w_iz, b_iz, w_hz, b_hz)):
            pre = x_t @ w_i.T + b_i + h @ w_h.T + b_h  # (N, H)
            magnitude = size @ np.abs(w_i).T + np.abs(b_i) + held @ np.abs(w_h).T + np.abs(b_h)
            pre_error = gamma_gate * magnitude + error @ np.abs(w_h).T
            gate_values.append(sigmoid(pre))
            gate_errors.append(largest_slope(sigmoid_slope, pre, pre_error) * pre_error
                               + GATE_ULPS * unit)
        (r, z), (e_r, e_z) = gate_values, gate_errors
        hidden_part = h @ w_hn.T + b_hn  # (N, H)
        hidden_error = gamma(sizes["H"] + 1) * (held @ np.abs(w_hn).T + np.abs(b_hn)) \
            + error @ np.abs(w_hn).T
        product_error = e_r * (np.abs(hidden_part) + hidden_error) + r * hidden_error \
            + unit * (r + e_r) * (np.abs(hidden_part) + hidden_error)
        product_size = r * np.abs(hidden_part) + product_error
        pre = x_t @ w_in.T + b_in + r * hidden_part  # (N, H)
        pre_error = gamma(sizes["I"] + 2) * (size @ np.abs(w_in).T + np.abs(b_in) + product_size) \
            + product_error
        n = np.tanh(pre)
        e_n = largest_slope(tanh_slope, pre, pre_error) * pre_error + GATE_ULPS * unit
        new_h = (1.0 - z) * n + z * h
        error = (1.0 - z + e_z) * e_n + (z + e_z) * error + np.abs(h - n) * e_z \
            + COMBINE_ULPS * unit * (np.abs(n) + e_n + held)
        h = new_h
        bounds[t] = error
    return {"output": bounds, "h_n": error[None]}


# --- Shapes ----------------------------------------------------------------------------------

def expected_shape(name: str, sizes: Sizes) -> tuple[int, ...]:
    if name == "output":
        return (sizes["L"], sizes["N"], sizes["H"])
    return (1, sizes["N"], sizes["H"])


def _shape_stories(name: str, sizes: Sizes) -> list[tuple[tuple[int, ...], str]]:
    """Known wrong shapes and what each one usually means, most specific first."""
    steps, batch, hidden = sizes["L"], sizes["N"], sizes["H"]
    if name == "output":
        return [
            ((batch, steps, hidden), "batch and time are swapped. sequence is (L, N, I), time "
             "first (nn.GRU's default batch_first=False), and output keeps that order."),
            ((steps, batch, 3 * hidden), "3H features: these are the three gates' "
             "pre-activations (r, z, n side by side), not the hidden state. Split them with "
             ".chunk(3, dim=-1) and return each step's new h."),
            ((steps, batch, 2 * hidden), "twice the hidden size, as a bidirectional layer would "
             "give; this nn.GRU has one direction, so output holds H features per step."),
            ((steps, 1, batch, hidden), "each step's state kept with h_0's leading axis of size "
             "1; take h_0[0] as the first state (N, H), or join the steps with torch.cat."),
            ((1, steps, batch, hidden), "output has an extra leading axis; stack the L states "
             "(each (N, H)) into (L, N, H)."),
            ((steps + 1, batch, hidden), "one step too many: output holds the state after each "
             "of the L steps, not h_0 in front of them."),
            ((steps - 1, batch, hidden), "one time step is missing: the loop should visit all L "
             "steps."),
            ((batch, hidden), "only the last step's state; output holds the state after every "
             "step, (L, N, H)."),
            ((1, batch, hidden), "this looks like h_n (the last state only); output holds the "
             "state after every step, (L, N, H)."),
        ]
    return [
        ((batch, hidden), "the leading axis is missing: h_n has one entry per layer and "
         "direction, here one, so its shape is (1, N, H) (h.unsqueeze(0))."),
        ((batch, 1, hidden), "the axes are in the wrong order: h_n is (1, N, H), the layer axis "
         "first."),
        ((steps, batch, hidden), "this holds every step, like output; h_n holds only the final "
         "state, (1, N, H)."),
        ((1, steps, batch, hidden), "this holds every step; h_n holds only the final state, "
         "(1, N, H)."),
        ((2, batch, hidden), "two final states, as a bidirectional or two-layer GRU would give; "
         "this nn.GRU has one layer and one direction, so h_n is (1, N, H)."),
        ((1, batch, 3 * hidden), "3H features: these are the three gates (r, z, n), not the "
         "hidden state."),
        ((1, batch, 2 * hidden), "twice the hidden size; this nn.GRU has one direction, so h_n "
         "is (1, N, H)."),
        ((1, 1, batch, hidden), "one axis too many: h_n is (1, N, H)."),
    ]


def explain_shape(name: str, got: tuple[int, ...], sizes: Sizes) -> str:
    """Say why `got` is not the expected shape, as precisely as the shape allows."""
    expected = expected_shape(name, sizes)
    for shape, story in _shape_stories(name, sizes):
        if shape == got and shape != expected:
            return story
    return hardcoded_sizes(name, got, sizes, NOTEBOOK_SIZES, expected_shape) or UNKNOWN_SHAPE


def split_halves(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """The scoring parts of a correctly shaped result: one per returned tensor (a GRU of one
    layer and one direction has nothing to split). h_n's part drops its axis of size 1."""
    if name == "output":
        return {"output": values}
    return {"h_n": values[0]}


# What each part's axes mean, to locate an element ("output, time step 2, sequence 0, unit 5").
HALF_AXES = {"output": ("time step", "sequence", "unit"), "h_n": ("sequence", "unit")}


# --- The student's side: globals for one case (runs in the child process) ------------------

def child_namespace(sizes: Sizes, arrays: Mapping[str, np.ndarray]) -> dict[str, object]:
    """The notebook's globals for one case, with a fresh `gru` holding the case's weights."""
    gru = loaded_module("GRU", sizes, arrays, WEIGHTS)
    return notebook_globals(sizes, arrays, "gru", gru, WEIGHTS, NUM_LAYERS=1)


# --- Catalogued mistakes (run in the grading process, in float64) ---------------------------

def _gru(inputs: Mapping[str, np.ndarray], *, reset: str = "outside", swap_update: bool = False,
         order: tuple[int, int, int] = (0, 1, 2), keep_b_ih: bool = True,
         keep_b_hh: bool = True, use_h0: bool = True, candidate=np.tanh,
         hn_step: int = -1) -> Arrays:
    """A GRU with switches for the usual mistakes; the defaults compute nn.GRU.

    `reset`: "outside" r * (W_hn h + b_hn) (PyTorch); "after_bias" r * (W_hn h) + b_hn;
    "on_h" W_hn (r * h) + b_hn; "none" W_hn h + b_hn. `order`: which block of rows is read as
    r, z and n. `hn_step`: the step whose state is returned as h_n.
    """
    w_ih, w_hh, b_ih, b_hh = (blocks[list(order)].reshape(-1, *blocks.shape[2:])
                              for blocks in _gates(inputs))  # rows in the order read as r, z, n
    b_ih, b_hh = keep_b_ih * b_ih, keep_b_hh * b_hh
    two = 2 * w_hh.shape[1]  # r and z rows come first, n rows from 2H on
    w_hn, b_hn = w_hh[two:], b_hh[two:]  # (H, H), (H,)
    x = inputs["sequence"].astype(np.float64)  # (L, N, I)
    h = inputs["h_0"][0].astype(np.float64) * use_h0  # (N, H)
    states = []
    for input_part in x @ w_ih.T + b_ih:  # (N, 3H) at each t
        gates = sigmoid(input_part[:, :two] + h @ w_hh[:two].T + b_hh[:two])  # (N, 2H)
        r, z = gates[:, :two // 2], gates[:, two // 2:]
        if reset == "outside":
            hidden_part = r * (h @ w_hn.T + b_hn)  # (N, H)
        elif reset == "after_bias":
            hidden_part = r * (h @ w_hn.T) + b_hn
        elif reset == "on_h":
            hidden_part = (r * h) @ w_hn.T + b_hn
        else:
            hidden_part = h @ w_hn.T + b_hn
        n = candidate(input_part[:, two:] + hidden_part)  # (N, H)
        h = z * n + (1 - z) * h if swap_update else (1 - z) * n + z * h
        states.append(h)
    output = np.stack(states)  # (L, N, H)
    return {"output": output, "h_n": output[hn_step][None]}


def _mistake(key: str, title: str, hint: str, shows: Callable[[Sizes, bool], bool] | None = None,
             **variant) -> Mistake:
    """`shows(sizes, h0_nonzero)`: whether the mistake can make a difference on such inputs."""
    def compute(inputs: Mapping[str, np.ndarray]) -> Arrays | None:
        if shows is not None and not shows(sizes_of(inputs), bool(np.any(inputs["h_0"]))):
            return None
        return _gru(inputs, **variant)

    return Mistake(key, title, hint, compute)


MISTAKES = (
    _mistake("reset_after_bias", "r applied after adding b_hn: r * (W_hn h) + b_hn",
             "In nn.GRU the reset gate multiplies the whole hidden term, bias included: "
             "n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).", reset="after_bias"),
    _mistake("reset_on_h", "r applied to h before W_hn: W_hn (r * h) + b_hn",
             "This is the original paper's GRU; nn.GRU applies r after the matrix product: "
             "r * (W_hn h + b_hn).", reset="on_h"),
    _mistake("reset_left_out", "the reset gate r left out of n",
             "The candidate n uses r: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).",
             reset="none"),
    _mistake("update_swapped", "z and 1 - z swapped in the update",
             "nn.GRU keeps the old state where z is 1: h' = (1 - z) * n + z * h.",
             swap_update=True),
    _mistake("r_z_swapped", "gate order confused: z taken from the first block of rows",
             "The rows of w_ih_l0, w_hh_l0 and the biases hold the gates in the order r, z, n: "
             "r is [0:H], z is [H:2H], n is [2H:3H].", order=(1, 0, 2)),
    _mistake("n_with_sigmoid", "sigmoid instead of tanh for n",
             "The gates r and z use sigmoid; the candidate n uses tanh.", candidate=sigmoid),
    _mistake("missing_b_ih", "the input bias b_ih left out",
             "Every gate adds two biases: b_ih with the input term and b_hh with the hidden "
             "term. Look at the input terms.", keep_b_ih=False),
    _mistake("missing_b_hh", "the hidden bias b_hh left out",
             "Every gate adds two biases: b_ih with the input term and b_hh with the hidden "
             "term. Look at the hidden terms (for n: inside r * (W_hn h + b_hn)).",
             keep_b_hh=False),
    _mistake("missing_both_biases", "both biases left out",
             "nn.GRU adds b_ih to the input terms and b_hh to the hidden terms of every gate.",
             keep_b_ih=False, keep_b_hh=False),
    _mistake("h0_ignored", "h_0 ignored (state starts at zero)",
             "The first step reads the previous state from h_0[0].",
             shows=lambda sizes, h0_nonzero: h0_nonzero, use_h0=False),
    _mistake("hn_first_step", "h_n taken after the first step",
             "h_n is the state after the last step, t = L - 1: the same as output[-1].",
             shows=lambda sizes, h0_nonzero: sizes["L"] > 1, hn_step=0),
)

# Every recurrent built-in, by the names a notebook reaches it by (the static check). Bare
# `gru_cell`, `lstm_cell`... are left out: students name their own step helpers so, and an
# imported one is caught at run time by the guard.
FORBIDDEN_CALLS = ("gru", "gru.forward", "gru.__call__",
                   "nn.GRU", "torch.nn.GRU", "GRU", "nn.GRUCell", "torch.nn.GRUCell", "GRUCell",
                   "torch.gru", "torch.gru_cell", "torch.ops.aten.gru", "torch.ops.aten.gru_cell",
                   "nn.RNN", "torch.nn.RNN", "RNN", "nn.RNNCell", "torch.nn.RNNCell", "RNNCell",
                   "nn.LSTM", "torch.nn.LSTM", "LSTM", "nn.LSTMCell", "torch.nn.LSTMCell",
                   "LSTMCell", "torch.lstm", "torch.lstm_cell", "torch.rnn_tanh", "torch.rnn_relu",
                   "rnn_tanh", "rnn_relu", "torch.rnn_tanh_cell", "torch.rnn_relu_cell",
                   "_VF", "_VariableFunctions", "RNNBase")


EXERCISE = Exercise.from_module(
    __name__,
    name="gru",
    function="manual_gru",
    output_names=("output", "h_n"),
    describe_sizes=describe_sizes,
    nbgrader_grade_cell="test_manual_gru",
    forbidden_message="manual_gru must compute the GRU by hand; calling the built-in GRU "
    "(the gru module, nn.GRU, nn.GRUCell, torch.gru or torch._VF) or any other recurrent "
    "built-in is not allowed.",
    half_axes=HALF_AXES,
    shape_multiples=(1, 2, 3),  # the three gates' 3H, never the LSTM's 4H
    reference_name="nn.GRU",
    returns="(output, h_n)",
    summary="one-layer GRU: nn.GRU(I, H), gates r, z, n",
)
