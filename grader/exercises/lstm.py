"""The LSTM exercise: names, sizes, cases, reference, rounding bound, shapes and mistakes.

Students complete `manual_lstm()`, which reads the notebook's globals and returns
`(output, (h_n, c_n))` exactly as `nn.LSTM(I, H)(sequence, (h_0, c_0))` would.
Shapes: L time steps, N sequences in the batch, I input features, H hidden features; the four
gates are stacked along the 4H axis of the weights in PyTorch's order i, f, g, o.

The return is nested: this module says how to flatten it (`flatten_returned`, run in the child)
into `output_names` ("output", "h_n", "c_n"), what each wrong nesting means
(`STRUCTURE_STORIES`), how the points split (`SCORING_PARTS`) and how to localise a mismatch
(`localise`); `EXERCISE` hands these to the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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

WEIGHTS = {  # notebook global -> nn.LSTM parameter
    "w_ih_l0": "weight_ih_l0",
    "w_hh_l0": "weight_hh_l0",
    "b_ih_l0": "bias_ih_l0",
    "b_hh_l0": "bias_hh_l0",
}
GATES = ("i", "f", "g", "o")  # PyTorch's order along the 4H axis
OUTPUT_NAMES = ("output", "h_n", "c_n")  # the nested (output, (h_n, c_n)), flattened
RETURNS = "(output, (h_n, c_n))"
REFERENCE_NAME = "nn.LSTM"  # what the messages name the reference
NOTEBOOK_SIZES = {"L": 5, "N": 3, "I": 4, "H": 6}
# sigmoid and tanh take values in (-1, 1); torch's float32 kernels, and 1 / (1 + exp(-z)) or
# 2 * sigmoid(2z) - 1 written by hand, are within a few units of roundoff of 1 of the exact
# value. The bound charges this much, absolute, per nonlinearity.
NONLINEARITY_ULPS = 8.0


# zero_h0 means both initial states, h_0 and c_0, are zero.
CASE_PLANS = one_layer_case_plans(NOTEBOOK_SIZES, ', zero initial states')


def make_inputs(sizes: Sizes, seed: int, zero_h0: bool) -> Arrays:
    """Weights drawn like nn.LSTM's own initialisation (uniform in ±1/√H), a normal sequence,
    h_0 and c_0 (both zero when `zero_h0`); float32."""
    hidden, inputs = sizes["H"], sizes["I"]
    shapes = {"w_ih_l0": (4 * hidden, inputs), "w_hh_l0": (4 * hidden, hidden),
              "b_ih_l0": (4 * hidden,), "b_hh_l0": (4 * hidden,)}
    return draw_inputs(seed, sizes, shapes, {"h_0": 1, "c_0": 1}, zero_h0)


def reference(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """nn.LSTM itself, in float64, on the case's float32 values: (L, N, H), (1, N, H) twice."""
    return torch_reference("LSTM", inputs, WEIGHTS, ("h_0", "c_0"), num_layers=1)


# --- The float32 rounding bound -------------------------------------------------------------

def _through(function, slope, z: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """φ(z) and the error bound of the computed φ(ẑ), |ẑ - z| <= error: φ is monotone with
    its steepest slope at 0, so the largest slope within `error` of z is at |z| - error."""
    return function(z), largest_slope(slope, z, error) * error \
        + NONLINEARITY_ULPS * UNIT_ROUNDOFF_F32


def rounding_bound(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """Element-wise bound on the rounding error of any float32 evaluation of the LSTM.

    Exact values (float64) and error bounds e_h, e_c are carried step by step; ^ marks a
    computed value, |x̂| <= |x| + e_x.

    * Gates. Each of the 4H pre-activations z sums n = I + H + 2 terms (products and the two
      biases); in any summation order, blocked, fused or with FMA, the rounding adds at most
      γ_n·Σ|terms| (Higham, Accuracy and Stability, 3.1), the terms taken with |ĥ|; the error
      already in ĥ adds e_h·|W_hh|ᵀ.
    * Nonlinearities. sigmoid (slope σ(1-σ) <= 1/4) and tanh (slope 1 - tanh² <= 1) are
      monotone and steepest at 0: an error e in z moves the value by at most e times the
      largest slope within e of z. Evaluating them adds NONLINEARITY_ULPS·u (values in (-1, 1)).
    * Cell. c' = f⊙c + i⊙g: the products of perturbed factors err by (|f|+e_f)·e_c + |c|·e_f
      and (|i|+e_i)·e_g + |g|·e_i; two products and a sum add γ_2·(|f̂ĉ| + |îĝ|).
    * Hidden state. h' = o⊙tanh(c'): (|o|+e_o)·e_tanh + |tanh c'|·e_o, plus one rounding
      u·|ôt̂|; tanh(c') goes through the nonlinearity rule with e_c'.

    Returns the bound of each output element; h_n and c_n are the last step's e_h and e_c.
    """
    sizes = sizes_of(inputs)
    hidden, u = sizes["H"], UNIT_ROUNDOFF_F32
    gamma_n, gamma_2 = gamma(sizes["I"] + hidden + 2), gamma(2)
    x = inputs["sequence"].astype(np.float64)  # (L, N, I)
    w_ih, w_hh, b_ih, b_hh = (inputs[name].astype(np.float64) for name in WEIGHTS)
    abs_w_ih, abs_w_hh, abs_bias = np.abs(w_ih), np.abs(w_hh), np.abs(b_ih) + np.abs(b_hh)
    h = inputs["h_0"][0].astype(np.float64)  # (N, H)
    c = inputs["c_0"][0].astype(np.float64)  # (N, H)
    e_h, e_c = np.zeros_like(h), np.zeros_like(c)
    bounds = np.zeros((sizes["L"], sizes["N"], hidden))  # (L, N, H)
    for t in range(sizes["L"]):
        z = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (N, 4H)
        magnitude = np.abs(x[t]) @ abs_w_ih.T + abs_bias + (np.abs(h) + e_h) @ abs_w_hh.T
        e_z = gamma_n * magnitude + e_h @ abs_w_hh.T  # (N, 4H)
        blocks = {gate: slice(k * hidden, (k + 1) * hidden) for k, gate in enumerate(GATES)}
        i, e_i = _through(sigmoid, sigmoid_slope, z[:, blocks["i"]], e_z[:, blocks["i"]])
        f, e_f = _through(sigmoid, sigmoid_slope, z[:, blocks["f"]], e_z[:, blocks["f"]])
        g, e_g = _through(np.tanh, tanh_slope, z[:, blocks["g"]], e_z[:, blocks["g"]])
        o, e_o = _through(sigmoid, sigmoid_slope, z[:, blocks["o"]], e_z[:, blocks["o"]])
        forget_term = (f + e_f) * (np.abs(c) + e_c)  # |f̂ ĉ| at most
        input_term = (i + e_i) * (np.abs(g) + e_g)  # |î ĝ| at most
        e_c = (f + e_f) * e_c + np.abs(c) * e_f + (i + e_i) * e_g + np.abs(g) * e_i \
            + gamma_2 * (forget_term + input_term)
        c = f * c + i * g  # (N, H)
        squashed, e_squashed = _through(np.tanh, tanh_slope, c, e_c)
        e_h = (o + e_o) * e_squashed + np.abs(squashed) * e_o \
            + u * (o + e_o) * (np.abs(squashed) + e_squashed)
        h = o * squashed  # (N, H)
        bounds[t] = e_h
    return {"output": bounds, "h_n": e_h[None], "c_n": e_c[None]}


# --- Shapes --------------------------------------------------------------------------------

def expected_shape(name: str, sizes: Sizes) -> tuple[int, ...]:
    if name == "output":
        return (sizes["L"], sizes["N"], sizes["H"])
    return (1, sizes["N"], sizes["H"])


def _output_stories(steps: int, batch: int, hidden: int) -> list[tuple[tuple[int, ...], str]]:
    return [
        ((batch, steps, hidden), "batch and time are swapped. sequence is (L, N, I), time first "
         "(nn.LSTM's default batch_first=False), and output keeps that order."),
        ((steps, 1, batch, hidden), "each step's h kept the (1, N, H) shape of h_0: start from "
         "h_0[0] and c_0[0], which are (N, H), so that stacking the L states gives (L, N, H)."),
        ((steps, batch, 4 * hidden), "these are the 4H gate pre-activations (i, f, g, o side by "
         "side), not the hidden states: output holds h_t = o ⊙ tanh(c_t), H features per step."),
        ((steps, batch, 3 * hidden), "3H features: three of the four gate blocks. The 4H "
         "pre-activations split into four blocks of H (i, f, g, o); output holds h_t only."),
        ((steps, batch, 2 * hidden), "2H features: h_t and c_t side by side (or two directions). "
         "output holds only the hidden states h_t; c_t is returned once, as c_n."),
        ((steps, 2, batch, hidden), "h_t and c_t stacked at every step: output holds only the "
         "hidden states h_t; the last cell state is returned as c_n."),
        ((2, steps, batch, hidden), "two sequences of states stacked (h and c?): output holds "
         "only the hidden states h_t."),
        ((steps * batch, hidden), "the steps are joined along the first axis (torch.cat): "
         "stack the L states of shape (N, H) on a new first axis (torch.stack) instead."),
        ((steps - 1, batch, hidden), "one time step is missing: the loop should visit all L "
         "steps."),
        ((steps + 1, batch, hidden), "one step too many: output starts with the state after "
         "reading x_0, not with h_0."),
    ]


def _state_stories(name: str, steps: int, batch: int,
                   hidden: int) -> list[tuple[tuple[int, ...], str]]:
    state = "hidden state h" if name == "h_n" else "cell state c"
    return [
        ((batch, hidden), f"the leading axis is missing: {name} is (num_layers, N, H) = "
         f"(1, N, H), the last {state} with a first axis of size 1 ({name[0]}.unsqueeze(0))."),
        ((batch, 1, hidden), f"the axis of size 1 is in the wrong place: {name} is (1, N, H) "
         "(unsqueeze(0), not unsqueeze(1))."),
        ((1, 1, batch, hidden), f"one axis of size 1 too many: the {state} was already "
         f"(1, N, H) before it was unsqueezed; {name} is (1, N, H)."),
        ((hidden, batch), "units and sequences are swapped: a state is (N, H), computed as "
         "x_t @ W.T, not W @ x_t."),
        ((1, hidden, batch), "units and sequences are swapped: a state is (N, H), computed as "
         "x_t @ W.T, not W @ x_t."),
        ((steps, batch, hidden), f"this holds every step; {name} holds only the last "
         f"{state}" + (", output[-1:]." if name == "h_n" else ".")),
        ((1, batch, 4 * hidden), f"these are the 4H gate pre-activations; {name} holds the "
         f"last {state}, H features."),
        ((batch, 4 * hidden), f"these are the 4H gate pre-activations; {name} holds the last "
         f"{state}, shape (1, N, H)."),
        ((2, batch, hidden), f"two states stacked (h and c?): {name} is only the last {state}, "
         "(1, N, H); return h_n and c_n separately, as the pair (h_n, c_n)."),
        ((1, batch, 2 * hidden), f"h and c side by side: {name} is only the last {state}; "
         "return h_n and c_n separately, as the pair (h_n, c_n)."),
        ((batch, 2 * hidden), f"h and c side by side: {name} is only the last {state}, "
         "(1, N, H); return h_n and c_n separately, as the pair (h_n, c_n)."),
    ]


def _shape_stories(name: str, sizes: Sizes) -> dict[tuple[int, ...], str]:
    """Known wrong shapes and what each one usually means, most specific first (where two
    stories give the same shape at these sizes, the first is told; the right shape has none)."""
    steps, batch, hidden = sizes["L"], sizes["N"], sizes["H"]
    stories = _output_stories(steps, batch, hidden) if name == "output" else \
        _state_stories(name, steps, batch, hidden)
    expected = expected_shape(name, sizes)
    found: dict[tuple[int, ...], str] = {}
    for shape, story in stories:
        if shape != expected and min(shape) > 0:
            found.setdefault(shape, story)
    return found


def explain_shape(name: str, got: tuple[int, ...], sizes: Sizes) -> str:
    """Say why `got` is not the expected shape, as precisely as the shape allows."""
    stories = _shape_stories(name, sizes)
    if got in stories:
        return stories[got]
    return hardcoded_sizes(name, got, sizes, NOTEBOOK_SIZES, expected_shape,
                           "w_hh_l0.shape[1]") or UNKNOWN_SHAPE


# --- Scoring parts, the nested return, localisation ----------------------------------------

SCORING_PARTS = {"output": ("output",), "h_n": ("h_n",), "c_n": ("c_n",)}
"""The parts each returned tensor is scored in, one point share each: a case's points split
equally over the three parts (output, h_n, c_n), so a right output and h_n with a wrong c_n
earn two thirds. `split_halves` returns exactly these parts."""


def split_halves(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """The scoring part of a correctly shaped result: the tensor itself, named after it (h_n
    and c_n without their leading axis of size 1, so an element reads "sequence, unit")."""
    return {name: values if name == "output" else values[0]}


STRUCTURE_STORIES = {
    "not_a_tuple": "manual_lstm must return a tuple (output, (h_n, c_n)), as nn.LSTM does.",
    "flat_triple": "manual_lstm returned three items side by side, (output, h_n, c_n); nn.LSTM "
    "returns two: output and the pair (h_n, c_n). Write `return output, (h_n, c_n)`.",
    "state_is_tensor": "the second item is a single tensor; nn.LSTM's second item is the pair "
    "(h_n, c_n). Returning only h_n (as nn.RNN does), or h_n and c_n stacked into one tensor, "
    "are the usual causes: write `return output, (h_n, c_n)`.",
    "state_first": "the pair (h_n, c_n) came first; output comes first: write "
    "`return output, (h_n, c_n)`.",
    "state_not_pair": "the second item must be the pair (h_n, c_n), a tuple of two tensors.",
    "wrong_length": "manual_lstm must return two items, output and the pair (h_n, c_n): "
    "`return output, (h_n, c_n)`.",
}
"""What each wrong nesting of the returned value means, keyed by what `flatten_returned`
reports. Fixed text: the child only chooses a key, so these are safe to show in hidden cases."""


def flatten_returned(returned: object) -> tuple[object, object, object] | str:
    """Run in the child: `(output, (h_n, c_n))` -> `(output, h_n, c_n)`, in `OUTPUT_NAMES`
    order, or the key in `STRUCTURE_STORIES` of the wrong nesting it is. Tuples and lists are
    both accepted at either level, as the current child accepts either for a pair. Whether the
    three items are tensors is left to the caller's usual checks (positions 0, 1, 2)."""
    import torch

    pair = (tuple, list)
    if not isinstance(returned, pair):
        return "not_a_tuple"
    if len(returned) == 3 and not isinstance(returned[1], pair):
        return "flat_triple"
    if len(returned) != 2:
        return "wrong_length"
    first, second = returned
    if isinstance(first, pair) and len(first) == 2 and isinstance(second, torch.Tensor):
        return "state_first"
    if isinstance(second, torch.Tensor):
        return "state_is_tensor"
    if not isinstance(second, pair) or len(second) != 2:
        return "state_not_pair"
    return first, second[0], second[1]


def localise(checks: Sequence, steps: int) -> list[str]:
    """Where an LSTM's result departs, given the `OutputCheck`s of output, h_n and c_n (what
    diagnose.localise does for the bidirectional RNN, in this exercise's words)."""
    by_name = {check.name: check for check in checks}
    lines = []
    output = by_name.get("output")
    if output is not None and output.halves_ok and not output.ok:
        step = output.first_divergence.get("output")
        if step == 0:
            lines.append("output goes wrong at its very first step (t = 0): look at one step's "
                         "gates, biases and activations.")
        elif step is not None:
            lines.append(f"output is right up to t = {step - 1} and goes wrong from t = {step}: "
                         "look at what one step hands to the next (h and c).")
    if not all(name in by_name and by_name[name].halves_ok for name in OUTPUT_NAMES):
        return lines
    ok = {name: by_name[name].ok for name in OUTPUT_NAMES}
    if ok["output"] and not ok["h_n"]:
        lines.append("output is right but h_n is not: h_n is the hidden state after the last "
                     "step, output[-1:], of shape (1, N, H).")
    if ok["output"] and ok["h_n"] and not ok["c_n"]:
        lines.append("output and h_n are right but c_n is not: c_n is the cell state c after "
                     f"the last step (t = {steps - 1}), before tanh, not h.")
    if not ok["output"] and ok["h_n"] and ok["c_n"]:
        lines.append("h_n and c_n are right but output is not: output[t] holds h_t, the hidden "
                     "state after reading x_t, in time order.")
    return lines


# --- The student's side: globals for one case (runs in the child process) ------------------

def child_namespace(sizes: Sizes, arrays: Mapping[str, np.ndarray]) -> dict[str, object]:
    """The notebook's globals for one case, with a fresh `lstm` holding the case's weights."""
    lstm = loaded_module("LSTM", sizes, arrays, WEIGHTS, num_layers=1)
    return notebook_globals(sizes, arrays, "lstm", lstm, WEIGHTS, ("h_0", "c_0"), NUM_LAYERS=1)


# --- Catalogued mistakes (run in the grading process, in float64) ---------------------------

IN_ORDER = (0, 1, 2, 3)  # which 4H block the student reads as i, f, g and o


def _lstm(inputs: Mapping[str, np.ndarray], *, blocks: tuple[int, ...] = IN_ORDER,
          gate_activation=sigmoid, g_activation=np.tanh, keep_b_ih: bool = True,
          keep_b_hh: bool = True, use_h0: bool = True, use_c0: bool = True,
          cell_from_h: bool = False, forget_on_input: bool = False,
          tanh_on_cell: bool = True, carry_cell: bool = True,
          states_swapped: bool = False, c_n_squashed: bool = False) -> Arrays:
    """An LSTM with the variations students get wrong; all defaults: the right one."""
    w_ih, w_hh, b_ih, b_hh = (inputs[name].astype(np.float64) for name in WEIGHTS)
    hidden = w_hh.shape[1]
    read_as = np.concatenate([np.arange(k * hidden, (k + 1) * hidden) for k in blocks])
    # The input terms of every step at once, the gate blocks in the order the student reads
    # them: columns 0:H are what it takes for i, H:2H for f, 2H:3H for g, 3H:4H for o.
    inputs_term = inputs["sequence"].astype(np.float64) @ w_ih[read_as].T \
        + keep_b_ih * b_ih[read_as] + keep_b_hh * b_hh[read_as]  # (L, N, 4H)
    w_hh_t = w_hh[read_as].T  # (H, 4H)
    h = inputs["h_0"][0].astype(np.float64) * use_h0  # (N, H)
    c_start = inputs["c_0"][0].astype(np.float64) * use_c0  # (N, H)
    c = c_start
    states = np.zeros(inputs_term.shape[:2] + (hidden,))  # (L, N, H)
    for t in range(inputs_term.shape[0]):
        z = inputs_term[t] + h @ w_hh_t  # (N, 4H)
        gates = gate_activation(z)  # i, f and o from this, g below
        i, f, o = gates[:, :hidden], gates[:, hidden:2 * hidden], gates[:, 3 * hidden:]
        g = g_activation(z[:, 2 * hidden:3 * hidden])
        previous = c if carry_cell else c_start
        if cell_from_h:
            previous = h
        c = f * g + i * previous if forget_on_input else f * previous + i * g
        h = o * (np.tanh(c) if tanh_on_cell else c)
        states[t] = h
    h_n, c_n = (c, h) if states_swapped else (h, np.tanh(c) if c_n_squashed else c)
    return {"output": states, "h_n": h_n[None], "c_n": c_n[None]}


MIN_VISIBLE = 1e-3
"""A mistake whose result differs from the right one by less than this everywhere is no
evidence either way (`compute` returns None): h_0 ignored when h_0 is zero, the cell state not
carried when L = 1, c_n after tanh when every |c| is small... Correct float32 code can only
match a prediction within 5 tolerances plus 1e-5·|value| of the reference (its own error,
then the diagnosis' slack of 4 tolerances and 1e-5 relative); the tolerance stays below 4e-5
over 1,000 seeds and values below 10: 1e-3 is far beyond that, and far below what a mistake
that shows changes (0.01 to 1)."""


_last_right: tuple[tuple[np.ndarray, ...], Arrays] | None = None


def _right(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """The right answer, kept for the last inputs seen: the catalogue is weighed mistake after
    mistake on one case's inputs. Keyed on the arrays themselves (held, so never recycled)."""
    global _last_right
    arrays = tuple(inputs[name] for name in (*WEIGHTS, "sequence", "h_0", "c_0"))
    last = _last_right
    if last is not None and all(a is b for a, b in zip(last[0], arrays, strict=True)):
        return last[1]
    answer = _lstm(inputs)
    _last_right = (arrays, answer)
    return answer


def _mistake(key: str, title: str, hint: str, **variant) -> Mistake:
    def compute(inputs: Mapping[str, np.ndarray]) -> Arrays | None:
        wrong, right = _lstm(inputs, **variant), _right(inputs)
        visible = max(float(np.max(np.abs(wrong[name] - right[name]))) for name in right)
        return wrong if visible >= MIN_VISIBLE else None

    return Mistake(key, title, hint, compute)


def _tanh_all(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


GATE_ORDER_HINT = ("nn.LSTM stacks the four gate blocks of its weights in the order i, f, g, o "
                   "(input, forget, cell candidate, output): rows 0:H are i, H:2H f, 2H:3H g and "
                   "3H:4H o.")
MISTAKES = (
    _mistake("gate_order_ifog", "gate blocks read as i, f, o, g (the order of some textbooks)",
             GATE_ORDER_HINT, blocks=(0, 1, 3, 2)),
    _mistake("gate_order_igfo", "gate blocks read as i, g, f, o (TensorFlow's LSTMBlockCell "
             "order)", GATE_ORDER_HINT, blocks=(0, 2, 1, 3)),
    _mistake("gate_order_iofg", "gate blocks read as i, o, f, g (ONNX's order)",
             GATE_ORDER_HINT, blocks=(0, 2, 3, 1)),
    _mistake("g_sigmoid", "sigmoid on the cell candidate g (sigmoid on all four blocks)",
             "i, f and o are gates in (0, 1) (sigmoid), but the cell candidate g is in (-1, 1): "
             "g = tanh(...).", g_activation=sigmoid),
    _mistake("activations_swapped", "tanh on the gates i, f, o and sigmoid on g",
             "The gates i, f and o go through sigmoid; only the cell candidate g goes through "
             "tanh.", gate_activation=_tanh_all, g_activation=sigmoid),
    _mistake("cell_from_h", "the cell state updated from h instead of c (c' = f ⊙ h + i ⊙ g)",
             "The forget gate scales the previous cell state: c_t = f ⊙ c_{t-1} + i ⊙ g, with "
             "c starting at c_0[0], not the hidden state h.", cell_from_h=True),
    _mistake("cell_not_carried", "the cell state not carried over (every step starts from c_0)",
             "Each step's new cell state c_t is the previous one for the next step; check that "
             "the variable you update is the one the next step reads.", carry_cell=False),
    _mistake("forget_on_input", "the forget gate applied to the candidate (c' = f ⊙ g + i ⊙ c)",
             "c_t = f ⊙ c_{t-1} + i ⊙ g: the forget gate keeps part of the old cell state, the "
             "input gate lets in part of the candidate g.", forget_on_input=True),
    _mistake("h_without_tanh", "h_t = o ⊙ c_t, without tanh",
             "The new hidden state squashes the cell state first: h_t = o ⊙ tanh(c_t).",
             tanh_on_cell=False),
    _mistake("missing_b_ih", "the input bias b_ih left out",
             "Each step adds two biases to the gates: b_ih with the input term and b_hh with "
             "the hidden term. Look at the input-to-hidden term.", keep_b_ih=False),
    _mistake("missing_b_hh", "the hidden bias b_hh left out",
             "Each step adds two biases to the gates: b_ih with the input term and b_hh with "
             "the hidden term. Look at the hidden-to-hidden term.", keep_b_hh=False),
    _mistake("missing_both_biases", "both biases left out",
             "nn.LSTM adds b_ih and b_hh (each 4H long, one entry per gate unit) to the gates.",
             keep_b_ih=False, keep_b_hh=False),
    _mistake("h0_ignored", "h_0 ignored (the hidden state starts at zero)",
             "The first step reads h_0[0] as the previous hidden state.", use_h0=False),
    _mistake("c0_ignored", "c_0 ignored (the cell state starts at zero)",
             "The first step reads c_0[0] as the previous cell state.", use_c0=False),
    _mistake("states_swapped", "h_n and c_n swapped",
             "nn.LSTM returns (output, (h_n, c_n)): the hidden state first, then the cell state.",
             states_swapped=True),
    _mistake("c_n_after_tanh", "c_n taken after tanh (tanh(c) instead of c)",
             "c_n is the cell state itself after the last step; tanh(c) is only used inside "
             "h_t = o ⊙ tanh(c_t).", c_n_squashed=True),
)

RECURRENT_BUILTINS = (  # every recurrent built-in, by the names a function body can use
    "nn.RNN", "torch.nn.RNN", "RNN", "nn.GRU", "torch.nn.GRU", "GRU", "RNNBase",
    "nn.RNNCell", "torch.nn.RNNCell", "nn.GRUCell", "torch.nn.GRUCell", "nn.LSTMCell",
    "torch.nn.LSTMCell", "torch.rnn_tanh", "torch.rnn_relu", "torch.rnn_tanh_cell",
    "torch.rnn_relu_cell", "torch.gru", "torch.gru_cell", "torch.lstm_cell",
    "_VF", "_VariableFunctions", "_thnn_fused_lstm_cell", "torch.mkldnn_rnn_layer",
    "torch.ops.aten.lstm", "torch.ops.aten.lstm_cell",
)
FORBIDDEN_CALLS = ("nn.LSTM", "torch.nn.LSTM", "LSTM", "lstm", "lstm.forward", "torch.lstm",
                   *RECURRENT_BUILTINS)

EXERCISE = Exercise.from_module(
    __name__,
    name="lstm",
    function="manual_lstm",
    output_names=OUTPUT_NAMES,
    describe_sizes=describe_sizes,
    nbgrader_grade_cell="test_manual_lstm",
    forbidden_message="manual_lstm must compute the LSTM by hand; calling the built-in LSTM "
    "(the lstm module, nn.LSTM, nn.LSTMCell, torch.lstm or torch._VF) or any other recurrent "
    "built-in is not allowed.",
    half_axes={"output": ("time step", "sequence", "unit"), "h_n": ("sequence", "unit"),
               "c_n": ("sequence", "unit")},
    reference_name=REFERENCE_NAME,
    returns=RETURNS,
    scoring_parts=tuple((tensor, part, 1 / len(SCORING_PARTS))
                        for tensor, parts in SCORING_PARTS.items() for part in parts),
    shape_multiples=(1, 2, 3, 4),
    summary="one-layer LSTM: nn.LSTM(I, H), gates i, f, g, o",
)
