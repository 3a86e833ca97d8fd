"""The bidirectional RNN exercise: names, sizes, cases, reference, shapes and mistakes.

Students complete `manual_rnn()`, which reads the notebook's globals and returns
`(output, h_n)` exactly as `nn.RNN(I, H, bidirectional=True)(sequence, h_0)` would.
Shapes: L time steps, N sequences in the batch, I input features, H hidden features.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from grader.exercises.base import Arrays, Exercise, Mistake, Sizes
from grader.exercises.plans import draw_inputs, one_layer_case_plans
from grader.exercises.rounding import tanh_layer
from grader.exercises.shapes import UNKNOWN_SHAPE, describe_sizes, hardcoded_sizes
from grader.exercises.torch_modules import loaded_module, notebook_globals, torch_reference

WEIGHTS = {  # notebook global -> nn.RNN parameter
    "w_ih_l0": "weight_ih_l0",
    "b_ih_l0": "bias_ih_l0",
    "w_hh_l0": "weight_hh_l0",
    "b_hh_l0": "bias_hh_l0",
    "w_r_ih_l0": "weight_ih_l0_reverse",
    "b_r_ih_l0": "bias_ih_l0_reverse",
    "w_r_hh_l0": "weight_hh_l0_reverse",
    "b_r_hh_l0": "bias_hh_l0_reverse",
}
NOTEBOOK_SIZES = {"L": 5, "N": 3, "I": 4, "H": 6}


CASE_PLANS = one_layer_case_plans(NOTEBOOK_SIZES)


def make_inputs(sizes: Sizes, seed: int, zero_h0: bool) -> Arrays:
    """Weights drawn like nn.RNN's own initialisation, a normal sequence and h_0; float32."""
    hidden, inputs = sizes["H"], sizes["I"]
    shapes = {name: ((hidden, inputs) if "ih" in name else (hidden, hidden))
              if name.startswith("w") else (hidden,) for name in WEIGHTS}
    return draw_inputs(seed, sizes, shapes, {"h_0": 2}, zero_h0)


def reference(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """nn.RNN itself, in float64, on the case's float32 values."""
    return torch_reference("RNN", inputs, WEIGHTS, num_layers=1, bidirectional=True)


def _direction_weights(inputs: Mapping[str, np.ndarray], reverse: bool) -> tuple[np.ndarray, ...]:
    prefix = "w_r_" if reverse else "w_"
    bias = "b_r_" if reverse else "b_"
    return (inputs[prefix + "ih_l0"], inputs[bias + "ih_l0"],
            inputs[prefix + "hh_l0"], inputs[bias + "hh_l0"])


def rounding_bound(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """Component-wise bound on the rounding error of any float32 evaluation of the RNN: one
    tanh layer read from the sequence itself (rounding.tanh_layer says how)."""
    x = inputs["sequence"].astype(np.float64)  # (L, N, I)
    directions = [([a.astype(np.float64) for a in _direction_weights(inputs, reverse)],
                   inputs["h_0"][direction].astype(np.float64), reverse)
                  for direction, reverse in ((0, False), (1, True))]
    _, output_bound, _, final_bounds = tanh_layer(x, np.zeros_like(x), directions)
    return {"output": output_bound, "h_n": np.stack(final_bounds)}


# --- Shapes --------------------------------------------------------------------------------

def expected_shape(name: str, sizes: Sizes) -> tuple[int, ...]:
    if name == "output":
        return (sizes["L"], sizes["N"], 2 * sizes["H"])
    return (2, sizes["N"], sizes["H"])


SHAPE_MISTAKES = {  # key: title, for the summaries; the stories below say what to do
    "output_one_direction": "output holds one direction only",
    "output_batch_time_swapped": "batch and time swapped in output",
    "output_directions_stacked": "directions stacked on a new axis in output",
    "output_step_missing": "output one time step short",
    "output_features_doubled_twice": "output's features doubled twice",
    "hn_one_direction": "h_n holds one direction's final state only",
    "hn_concatenated": "h_n's final states concatenated instead of stacked",
    "hn_wrong_axis": "h_n's directions on the wrong axis",
    "hn_every_step": "h_n holds every step instead of the final states",
    "sizes_hardcoded": "sizes hard-coded to the notebook's",
}


def _shape_stories(name: str, sizes: Sizes) -> dict[tuple[int, ...], tuple[str, str]]:
    """Known wrong shapes: (mistake key, what it usually means), most specific first."""
    steps, batch, hidden = sizes["L"], sizes["N"], sizes["H"]
    if name == "output":
        return {
            (steps, batch, hidden): ("output_one_direction", "only one direction: the reverse "
                                     "half is missing. output holds both directions side by "
                                     "side, forward in [..., :H] and reverse in [..., H:]."),
            (batch, steps, 2 * hidden): ("output_batch_time_swapped", "batch and time are "
                                         "swapped. sequence is (L, N, I), time first (nn.RNN's "
                                         "default batch_first=False), and output keeps that "
                                         "order."),
            (steps, batch, 2, hidden): ("output_directions_stacked", "the directions are "
                                        "stacked on a new axis; output concatenates them along "
                                        "the last axis instead (torch.cat(..., dim=2))."),
            (2, steps, batch, hidden): ("output_directions_stacked", "the directions are "
                                        "stacked on a new first axis; output concatenates them "
                                        "along the last axis instead (torch.cat(..., dim=2))."),
            (steps - 1, batch, 2 * hidden): ("output_step_missing", "one time step is missing: "
                                             "the loops should visit all L steps."),
            (steps, batch, hidden * 2 * 2): ("output_features_doubled_twice", "the hidden "
                                             "features are doubled twice; check how the two "
                                             "directions are joined."),
        }
    return {
        (batch, hidden): ("hn_one_direction", "only one direction's final state; h_n stacks the "
                          "forward and the reverse final states into shape (D, N, H)."),
        (1, batch, hidden): ("hn_one_direction", "only one direction's final state; h_n holds "
                             "D = 2 of them, forward first."),
        (batch, 2 * hidden): ("hn_concatenated", "the final states are concatenated; h_n stacks "
                              "them on a new first axis (torch.stack) into (D, N, H)."),
        (batch, 2, hidden): ("hn_wrong_axis", "the directions are stacked on the wrong axis: "
                             "h_n is (D, N, H)."),
        (steps, batch, 2 * hidden): ("hn_every_step", "this looks like output, not h_n; h_n "
                                     "holds only each direction's final state."),
        (2, steps, batch, hidden): ("hn_every_step", "this holds every step; h_n holds only "
                                    "each direction's final state."),
    }


def explain_shape(name: str, got: tuple[int, ...], sizes: Sizes) -> tuple[str, str]:
    """Why `got` is not the expected shape, as precisely as the shape allows: (mistake key or
    "", the story)."""
    stories = _shape_stories(name, sizes)
    if got in stories:
        return stories[got]
    story = hardcoded_sizes(name, got, sizes, NOTEBOOK_SIZES, expected_shape)
    return ("sizes_hardcoded", story) if story else ("", UNKNOWN_SHAPE)


def split_halves(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """Forward and reverse parts of a correctly shaped result."""
    if name == "output":
        hidden = values.shape[-1] // 2
        return {"forward": values[..., :hidden], "reverse": values[..., hidden:]}
    return {"forward": values[0], "reverse": values[1]}


# --- The student's side: globals for one case (runs in the child process) ------------------

def child_namespace(sizes: Sizes, arrays: Mapping[str, np.ndarray]) -> dict[str, object]:
    """The notebook's globals for one case, with a fresh `rnn` holding the case's weights."""
    rnn = loaded_module("RNN", sizes, arrays, WEIGHTS, num_layers=1, bidirectional=True)
    return notebook_globals(sizes, arrays, "rnn", rnn, WEIGHTS, NUM_LAYERS=1, D=2,
                            BIDIRECTIONAL=True,
                            BIDERECTIONAL=True)  # the tutorial's spelling, kept


# --- Catalogued mistakes (run in the grading process, in float64) ---------------------------

def _direction(inputs: Mapping[str, np.ndarray], h0_index: int, *, weights_reverse: bool,
               activation, keep_b_ih: bool = True, keep_b_hh: bool = True,
               use_h0: bool = True, visit_reversed: bool,
               steps: int) -> tuple[np.ndarray, np.ndarray]:
    """One direction's states (L, N, H), index t after reading x_t, and its final state."""
    w_ih, b_ih, w_hh, b_hh = (a.astype(np.float64) for a in _direction_weights(inputs,
                                                                              weights_reverse))
    x = inputs["sequence"].astype(np.float64)  # (L, N, I)
    h = inputs["h_0"][h0_index].astype(np.float64)  # (N, H)
    if not use_h0:
        h = np.zeros_like(h)
    states = np.zeros(x.shape[:2] + (w_hh.shape[0],))  # (L, N, H)
    order = list(range(x.shape[0] - 1, -1, -1) if visit_reversed else range(x.shape[0]))
    for t in order[:steps]:
        h = activation(x[t] @ w_ih.T + keep_b_ih * b_ih + h @ w_hh.T + keep_b_hh * b_hh)
        states[t] = h
    return states, h


def _birnn(inputs: Mapping[str, np.ndarray], *, activation=np.tanh, keep_b_ih: bool = True,
           keep_b_hh: bool = True, use_h0: bool = True, reverse_weights: bool = True,
           reverse_visits_reversed: bool = True, reverse_stored_forward: bool = False,
           swap_halves: bool = False, hn_reverse_at_last: bool = False, steps_missing: int = 0,
           forward_only: bool = False, reverse_h0: int = 1) -> Arrays | None:
    steps = inputs["sequence"].shape[0] - steps_missing
    if steps < 1:
        return None  # this mistake cannot be told apart from "computed nothing"
    common = {"activation": activation, "keep_b_ih": keep_b_ih, "keep_b_hh": keep_b_hh,
              "use_h0": use_h0, "steps": steps}
    forward, h_forward = _direction(inputs, 0, weights_reverse=False, visit_reversed=False,
                                    **common)
    if forward_only:
        return {"output": forward, "h_n": h_forward[None]}
    backward, h_backward = _direction(inputs, reverse_h0, weights_reverse=reverse_weights,
                                      visit_reversed=reverse_visits_reversed, **common)
    if hn_reverse_at_last:
        h_backward = backward[-1]
    if reverse_stored_forward:
        backward = backward[::-1]
    halves = [backward, forward] if swap_halves else [forward, backward]
    return {"output": np.concatenate(halves, axis=2), "h_n": np.stack([h_forward, h_backward])}


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _identity(z: np.ndarray) -> np.ndarray:
    return z


def _mistake(key: str, title: str, hint: str, **variant) -> Mistake:
    return Mistake(key, title, hint, lambda inputs: _birnn(inputs, **variant), variant)


def combine_mistakes(first: Mistake, second: Mistake) -> Mistake | None:
    """Both mistakes at once, when they change different things (relu and no activation do
    not combine; neither does a mistake with one that already implies it)."""
    shared = set(first.variant) & set(second.variant)
    if not first.variant or not second.variant or \
            any(first.variant[key] != second.variant[key] for key in shared):
        return None
    variant = {**first.variant, **second.variant}
    if variant in (dict(first.variant), dict(second.variant)) or \
            any(variant == dict(m.variant) for m in MISTAKES):
        return None
    return Mistake(f"{first.key}+{second.key}", f"{first.title}, and {second.title}",
                   f"{first.hint} {second.hint}", lambda inputs: _birnn(inputs, **variant),
                   variant)


MISTAKES = (
    _mistake("reverse_at_forward_index", "reverse outputs stored at the forward time index",
             "The reverse direction's state after reading x_t belongs at output[t], the same "
             "place as the forward state for x_t. Check where each reverse step is written.",
             reverse_stored_forward=True),
    _mistake("reverse_reads_forward_order", "reverse direction reads the sequence in forward "
             "order", "The reverse direction starts at the last time step and walks back to the "
             "first. Check the order in which it visits the sequence.",
             reverse_visits_reversed=False),
    _mistake("halves_swapped", "forward and reverse halves swapped in output",
             "output puts the forward direction first ([..., :H]) and the reverse one second.",
             swap_halves=True),
    _mistake("missing_b_ih", "the input bias b_ih left out",
             "Each step adds two biases: one with the input term and one with the hidden term. "
             "Look at the input-to-hidden term.", keep_b_ih=False),
    _mistake("missing_b_hh", "the hidden bias b_hh left out",
             "Each step adds two biases: one with the input term and one with the hidden term. "
             "Look at the hidden-to-hidden term.", keep_b_hh=False),
    _mistake("missing_both_biases", "both biases left out",
             "nn.RNN adds a bias to the input term and another to the hidden term.",
             keep_b_ih=False, keep_b_hh=False),
    _mistake("relu_activation", "relu instead of tanh",
             "nn.RNN's default nonlinearity squashes each pre-activation into (-1, 1).",
             activation=_relu),
    _mistake("no_activation", "no activation function",
             "Each new hidden state passes through a nonlinearity before it is used or stored.",
             activation=_identity),
    _mistake("forward_weights_in_reverse", "forward weights used for the reverse direction",
             "The reverse direction has its own four tensors, the ones with _r_ in their names.",
             reverse_weights=False),
    _mistake("h0_ignored", "h_0 ignored (state starts at zero)",
             "Each direction starts from its own slice of h_0: h_0[0] forward, h_0[1] reverse.",
             use_h0=False),
    _mistake("reverse_starts_from_h0_forward", "the reverse direction starts from h_0[0]",
             "h_0 holds one initial state per direction: the forward direction starts from "
             "h_0[0], the reverse one from h_0[1].", reverse_h0=0),
    _mistake("hn_reverse_from_last_step", "h_n's reverse half taken at the last time step",
             "The reverse direction finishes at t = 0, so that is where its final state is.",
             hn_reverse_at_last=True),
    _mistake("one_step_too_few", "one step too few",
             "Both directions must visit every one of the L time steps; count the loop's steps.",
             steps_missing=1),
    _mistake("forward_only", "only the forward direction",
             "A bidirectional RNN runs a second pass from the last step to the first with the "
             "_reverse weights and joins both passes.", forward_only=True),
)

# torch's recurrent built-ins, for the code check: a torch name is one when its own name contains
# one of these (case aside) — torch.nn.RNN/GRU/LSTM and their cells, torch.rnn_tanh(_cell),
# torch._VF.gru, torch.ops.aten.lstm_cell.default, torch.ao.nn.quantizable.LSTM... — and
# `rnn(...)` is one when `rnn` is the notebook's nn.RNN module. A name the student defines
# (a class RNN, a function rnn) never is. The run-time guard catches the same operators.
FORBIDDEN_CALLS = ("rnn", "gru", "lstm")

EXERCISE = Exercise.from_module(
    __name__,
    name="bidirectional_rnn",
    function="manual_rnn",
    output_names=("output", "h_n"),
    describe_sizes=describe_sizes,
    nbgrader_grade_cell="test_manual_rnn",
    forbidden_message="manual_rnn must compute the RNN by hand; calling the built-in RNN or any "
    "of torch's recurrent layers and kernels (the rnn module, nn.RNN, nn.GRU, nn.LSTM and their "
    "cells, torch.rnn_tanh, torch._VF...) is not allowed.",
    half_axes={"output": ("t = {i}", "sequence {i}", "{half} unit {i}"),
               "h_n": ("sequence {i}", "{half} unit {i}")},
    other_mistakes=SHAPE_MISTAKES,
    reference_name="nn.RNN",
    returns="(output, h_n)",
    summary="one-layer bidirectional RNN (tanh): nn.RNN(I, H, bidirectional=True)",
)
