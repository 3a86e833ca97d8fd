"""The stacked bidirectional RNN exercise: names, sizes, cases, reference, shapes and mistakes.

Students complete `manual_stacked_rnn()`, which reads the notebook's globals and returns
`(output, h_n)` exactly as `nn.RNN(I, H, num_layers=2, bidirectional=True)(sequence, h_0)`
would: output (L, N, 2H) is the last layer's, h_n (4, N, H) holds every final state in
nn.RNN's order (layer 0 forward, layer 0 reverse, layer 1 forward, layer 1 reverse). Layer 1
reads layer 0's output, both directions side by side, so its input weights are (H, 2H).
Shapes: L time steps, N sequences in the batch, I input features, H hidden features.

Points go by layer and direction (`SCORING_PARTS`, the parts `scoring_parts` cuts).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from grader.exercises.base import Arrays, CasePlan, Exercise, Mistake, Sizes
from grader.exercises.plans import distinct, draw_inputs
from grader.exercises.rounding import tanh_layer
from grader.exercises.shapes import UNKNOWN_SHAPE, describe_sizes, hardcoded_sizes
from grader.exercises.torch_modules import loaded_module, notebook_globals, torch_reference

NUM_LAYERS = 2
D = 2  # directions: forward, reverse
WEIGHTS = {  # notebook global -> nn.RNN parameter
    "w_ih_l0": "weight_ih_l0",  # (H, I)
    "b_ih_l0": "bias_ih_l0",
    "w_hh_l0": "weight_hh_l0",  # (H, H)
    "b_hh_l0": "bias_hh_l0",
    "w_r_ih_l0": "weight_ih_l0_reverse",
    "b_r_ih_l0": "bias_ih_l0_reverse",
    "w_r_hh_l0": "weight_hh_l0_reverse",
    "b_r_hh_l0": "bias_hh_l0_reverse",
    "w_ih_l1": "weight_ih_l1",  # (H, 2H): layer 1 reads both directions of layer 0
    "b_ih_l1": "bias_ih_l1",
    "w_hh_l1": "weight_hh_l1",
    "b_hh_l1": "bias_hh_l1",
    "w_r_ih_l1": "weight_ih_l1_reverse",
    "b_r_ih_l1": "bias_ih_l1_reverse",
    "w_r_hh_l1": "weight_hh_l1_reverse",
    "b_r_hh_l1": "bias_hh_l1_reverse",
}
NOTEBOOK_SIZES = {"L": 5, "N": 3, "I": 4, "H": 6}


def weight_names(layer: int, reverse: bool) -> tuple[str, str, str, str]:
    """The globals of one layer and direction: (w_ih, b_ih, w_hh, b_hh)."""
    r = "r_" if reverse else ""
    return (f"w_{r}ih_l{layer}", f"b_{r}ih_l{layer}", f"w_{r}hh_l{layer}", f"b_{r}hh_l{layer}")


def state_row(layer: int, reverse: bool) -> int:
    """Where a layer's direction keeps its state in h_0 and h_n: nn.RNN's layer-major order."""
    return D * layer + int(reverse)


# --- Case plans: the bidirectional exercise's structure; I = 2H in exactly one plan -----------

def _draw_one_step(rng: np.random.Generator) -> dict[str, int]:
    hidden = int(rng.integers(2, 7))
    return {"L": 1, "N": 1, "I": distinct(rng, 2, 7, hidden, 2 * hidden), "H": hidden}


def _draw_batch_of_steps_one(rng: np.random.Generator) -> dict[str, int]:
    hidden = int(rng.integers(2, 6))
    return {"L": 1, "N": int(rng.integers(2, 6)), "I": distinct(rng, 2, 6, hidden, 2 * hidden),
            "H": hidden}


def _draw_one_sequence(rng: np.random.Generator) -> dict[str, int]:
    hidden = int(rng.integers(2, 6))
    return {"L": int(rng.integers(4, 9)), "N": 1, "I": 2 * hidden, "H": hidden}


def _draw_batch_longer(rng: np.random.Generator) -> dict[str, int]:
    steps = int(rng.integers(2, 5))
    hidden = int(rng.integers(3, 7))
    return {"L": steps, "N": int(rng.integers(steps + 1, 8)),
            "I": distinct(rng, 2, 7, hidden, 2 * hidden), "H": hidden}


def _draw_wide_hidden(rng: np.random.Generator) -> dict[str, int]:
    steps = int(rng.integers(3, 8))
    return {"L": steps, "N": distinct(rng, 2, 5, steps), "I": int(rng.integers(2, 8)),
            "H": int(rng.integers(8, 17))}


CASE_PLANS = (
    CasePlan("the notebook's own sizes", NOTEBOOK_SIZES, lambda rng: dict(NOTEBOOK_SIZES)),
    CasePlan("one time step, one sequence", {"L": 1, "N": 1, "I": 3, "H": 2}, _draw_one_step),
    CasePlan("one time step, a batch of sequences", {"L": 1, "N": 4, "I": 2, "H": 3},
             _draw_batch_of_steps_one, zero_h0=True),
    # I = 2H: layer 0's input is as wide as layer 1's, so mixing them up runs without a shape
    # error, and only here can those mistakes be recognised.
    CasePlan("one long sequence, I = 2H", {"L": 7, "N": 1, "I": 6, "H": 3}, _draw_one_sequence),
    CasePlan("more sequences than time steps", {"L": 2, "N": 5, "I": 5, "H": 3},
             _draw_batch_longer, zero_h0=True),
    CasePlan("a wide hidden state", {"L": 4, "N": 2, "I": 3, "H": 10}, _draw_wide_hidden),
)


def make_inputs(sizes: Sizes, seed: int, zero_h0: bool) -> Arrays:
    """Weights drawn like nn.RNN's own initialisation (uniform within 1/sqrt(H), every layer),
    a normal sequence and h_0; float32."""
    hidden = sizes["H"]
    features = {"l0": sizes["I"], "l1": D * hidden}  # what each layer reads per step
    shapes = {name: (hidden,) if name.startswith("b") else
              (hidden, features[name[-2:]]) if "_ih_" in name else (hidden, hidden)
              for name in WEIGHTS}
    return draw_inputs(seed, sizes, shapes, {"h_0": NUM_LAYERS * D}, zero_h0)


def build_module(sizes: Sizes, arrays: Mapping[str, np.ndarray], dtype=None):
    """nn.RNN(I, H, num_layers=2, bidirectional=True) holding the case's weights."""
    return loaded_module("RNN", sizes, arrays, WEIGHTS, dtype, num_layers=NUM_LAYERS,
                         bidirectional=True)


def reference(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """nn.RNN itself, in float64, on the case's float32 values: (L, N, 2H), (4, N, H)."""
    return torch_reference("RNN", inputs, WEIGHTS, num_layers=NUM_LAYERS, bidirectional=True)


# --- The float32 rounding bound --------------------------------------------------------------

def _weights(inputs: Mapping[str, np.ndarray], layer: int, reverse: bool) -> list[np.ndarray]:
    return [inputs[name].astype(np.float64) for name in weight_names(layer, reverse)]


def rounding_bound(inputs: Mapping[str, np.ndarray]) -> Arrays:
    """Component-wise bound on the rounding error of any float32 evaluation of the stacked RNN.

    Step t of one direction of layer k sums n = F + H + 2 terms per element, F = I for layer 0
    and 2H for layer 1 (rounding.tanh_layer: in any order and grouping, per-term matmuls, one
    fused [x, h] matmul, biases added first, a blocked BLAS kernel). The errors already in what
    a layer reads enter linearly: e_x = 0 for layer 0 and layer 0's output bound for layer 1.
    Bounds are computed in float64 beside the values (float64's own error, ~1e-16, is far below
    the tolerance's floor). h_n's rows are each direction's last bound.
    """
    x = inputs["sequence"].astype(np.float64)  # (L, N, I)
    h_0 = inputs["h_0"].astype(np.float64)  # (4, N, H)
    layers = [[(_weights(inputs, layer, reverse), h_0[state_row(layer, reverse)], reverse)
               for reverse in (False, True)] for layer in range(NUM_LAYERS)]
    output0, error0, _, final_errors0 = tanh_layer(x, np.zeros_like(x), layers[0])
    _, error1, _, final_errors1 = tanh_layer(output0, error0, layers[1])
    return {"output": error1, "h_n": np.stack(final_errors0 + final_errors1)}


# --- Shapes and scoring parts --------------------------------------------------------------

def expected_shape(name: str, sizes: Sizes) -> tuple[int, ...]:
    if name == "output":
        return (sizes["L"], sizes["N"], D * sizes["H"])
    return (NUM_LAYERS * D, sizes["N"], sizes["H"])


HN_ORDER = "layer 0 forward, layer 0 reverse, layer 1 forward, layer 1 reverse"


def _shape_stories(name: str, sizes: Sizes) -> dict[tuple[int, ...], str]:
    """Known wrong shapes and what each one usually means; the first story of a shape wins."""
    steps, batch, hidden = sizes["L"], sizes["N"], sizes["H"]
    if name == "output":
        stories = [
            ((steps, batch, hidden), "only one direction: the reverse half is missing. output "
             "holds the last layer's two directions side by side, forward in [..., :H] and "
             "reverse in [..., H:]."),
            ((batch, steps, 2 * hidden), "batch and time are swapped. sequence is (L, N, I), "
             "time first (nn.RNN's default batch_first=False), and output keeps that order."),
            ((steps, batch, 2, hidden), "the directions are stacked on a new axis; output "
             "concatenates them along the last axis instead (torch.cat(..., dim=2))."),
            ((2, steps, batch, hidden), "two (L, N, H) tensors stacked on a new first axis: "
             "output concatenates the last layer's directions along the last axis instead "
             "(torch.cat(..., dim=2)), and holds layer 1 only."),
            ((steps, batch, 4 * hidden), "both layers' outputs are joined; output holds only the "
             "last layer's (layer 1's) states, (L, N, 2H)."),
            ((2, steps, batch, 2 * hidden), "every layer's output is kept; output holds only the "
             "last layer's (layer 1's) states, (L, N, 2H)."),
            ((4, steps, batch, hidden), "every layer's and direction's states are stacked; "
             "output holds only the last layer's two directions, concatenated: (L, N, 2H)."),
            ((steps - 1, batch, 2 * hidden), "one time step is missing: every layer's loops "
             "should visit all L steps."),
        ]
    else:
        stories = [
            ((2, batch, hidden), "only two final states; h_n holds NUM_LAYERS * D = 4 of them, "
             f"every layer's and every direction's, in the order {HN_ORDER}."),
            ((2, 2, batch, hidden), "layers and directions are on two axes; h_n puts the four "
             f"final states on one axis, (4, N, H), in the order {HN_ORDER} "
             "(torch.stack of the four, or .reshape(4, N, H))."),
            ((2, batch, 2 * hidden), "each layer's directions are concatenated; h_n stacks the "
             f"four final states on a new first axis (torch.stack) in the order {HN_ORDER}."),
            ((batch, 4 * hidden), "the final states are concatenated; h_n stacks them on a new "
             f"first axis (torch.stack), (4, N, H), in the order {HN_ORDER}."),
            ((batch, 4, hidden), "the final states are stacked on the wrong axis: h_n is "
             "(4, N, H), the states first."),
            ((batch, hidden), "only one final state; h_n stacks all four, (4, N, H), in the "
             f"order {HN_ORDER}."),
            ((1, batch, hidden), "only one final state; h_n holds NUM_LAYERS * D = 4 of them."),
            ((steps, batch, 2 * hidden), "this looks like output, not h_n; h_n holds only each "
             "layer's and direction's final state."),
            ((4, steps, batch, hidden), "this holds every step; h_n holds only each layer's and "
             "direction's final state."),
        ]
    chosen: dict[tuple[int, ...], str] = {}
    for shape, story in stories:
        chosen.setdefault(shape, story)
    return chosen


def explain_shape(name: str, got: tuple[int, ...], sizes: Sizes) -> str:
    """Say why `got` is not the expected shape, as precisely as the shape allows."""
    stories = _shape_stories(name, sizes)
    if got in stories:
        return stories[got]
    return hardcoded_sizes(name, got, sizes, NOTEBOOK_SIZES, expected_shape) or UNKNOWN_SHAPE


def split_halves(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """Forward and reverse parts of a correctly shaped result, as the pipeline scores today:
    output's halves of the last layer; h_n's forward rows (layers 0 and 1) and reverse rows."""
    if name == "output":
        hidden = values.shape[-1] // 2
        return {"forward": values[..., :hidden], "reverse": values[..., hidden:]}
    return {"forward": values[0::2], "reverse": values[1::2]}  # each (2, N, H): layer, N, H


# Scoring by layer and direction, for a pipeline that takes more than two parts per tensor:
# (tensor, part, share of the case's points). Output, whose every value depends on both
# layers, weighs as much as h_n, as in the bidirectional exercise; h_n's layer-0 rows are the
# credit for a right first layer under a wrong second one.
SCORING_PARTS = (
    ("output", "forward", 0.25),
    ("output", "reverse", 0.25),
    ("h_n", "layer 0 forward", 0.125),
    ("h_n", "layer 0 reverse", 0.125),
    ("h_n", "layer 1 forward", 0.125),
    ("h_n", "layer 1 reverse", 0.125),
)


def scoring_parts(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """The parts of SCORING_PARTS in a correctly shaped result: output's two directions, and
    each of h_n's four rows by layer and direction."""
    if name == "output":
        return split_halves(name, values)
    return {f"layer {layer} {'reverse' if reverse else 'forward'}":
            values[state_row(layer, reverse)] for layer in range(NUM_LAYERS)
            for reverse in (False, True)}


# --- The student's side: globals for one case (runs in the child process) ------------------

def child_namespace(sizes: Sizes, arrays: Mapping[str, np.ndarray]) -> dict[str, object]:
    """The notebook's globals for one case, with a fresh `rnn` holding the case's weights."""
    return notebook_globals(sizes, arrays, "rnn", build_module(sizes, arrays), WEIGHTS,
                            NUM_LAYERS=NUM_LAYERS, D=D, BIDIRECTIONAL=True,
                            BIDERECTIONAL=True)  # the tutorial's spelling, kept


# --- Catalogued mistakes (run in the grading process, in float64) ---------------------------

def _layer(inputs: Mapping[str, np.ndarray], weights_of: int, x: np.ndarray, starts: np.ndarray,
           *, stored_forward: bool = False,
           reverse_final_at_last: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """One bidirectional layer with `weights_of` layer's weights: x (L, N, F) and starts
    (2, N, H) -> output (L, N, 2H) and the two final states."""
    halves, finals = [], []
    for reverse in (False, True):
        w_ih, b_ih, w_hh, b_hh = _weights(inputs, weights_of, reverse)
        h = starts[int(reverse)]  # (N, H)
        states = np.zeros(x.shape[:2] + (w_hh.shape[0],))  # (L, N, H)
        for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
            h = np.tanh(x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
            states[t] = h
        if reverse and reverse_final_at_last:
            h = states[-1]
        if reverse and stored_forward:
            states = states[::-1]
        halves.append(states)
        finals.append(h)
    return np.concatenate(halves, axis=2), finals


H0_READINGS = {  # how each mistake picks the four starting states from h_0's rows
    "own": [0, 1, 2, 3],
    "layer0_rows": [0, 1, 0, 1],  # layer 1 starts from layer 0's rows
    "direction_major": [0, 2, 1, 3],  # h_0 read as (fwd l0, fwd l1, rev l0, rev l1)
}


def _stacked(inputs: Mapping[str, np.ndarray], *, layer1_reads: str = "output",
             layer1_weights: int = 1, stored_forward: tuple[int, ...] = (),
             h0: str = "own", zero_starts: tuple[int, ...] = (), hn_direction_major: bool = False,
             output_of_layer: int = 1, reverse_final_at_last: bool = False) -> Arrays:
    """The stacked RNN with one mistake (or none, with the defaults), in float64."""
    x = inputs["sequence"].astype(np.float64)  # (L, N, I)
    starts = inputs["h_0"].astype(np.float64)[H0_READINGS[h0]]  # (4, N, H)
    for layer in zero_starts:
        starts[D * layer:D * layer + D] = 0.0
    output0, finals0 = _layer(inputs, 0, x, starts[:D], stored_forward=0 in stored_forward,
                              reverse_final_at_last=reverse_final_at_last)
    hidden = output0.shape[2] // 2
    reads = {"output": output0, "sequence": x,
             "forward_half": np.concatenate([output0[..., :hidden],
                                             np.zeros_like(output0[..., hidden:])], axis=2)}
    output1, finals1 = _layer(inputs, layer1_weights, reads[layer1_reads], starts[D:],
                              stored_forward=1 in stored_forward,
                              reverse_final_at_last=reverse_final_at_last)
    finals = finals0 + finals1  # layer 0 fwd, layer 0 rev, layer 1 fwd, layer 1 rev
    if hn_direction_major:
        finals = [finals[i] for i in (0, 2, 1, 3)]
    return {"output": output1 if output_of_layer == 1 else output0, "h_n": np.stack(finals)}


def _can_show(inputs: Mapping[str, np.ndarray], needs: str) -> bool:
    """Whether a mistake can happen, and differ from the right answer, at these inputs."""
    steps, _, features = inputs["sequence"].shape
    hidden = inputs["w_hh_l0"].shape[0]
    h_0 = inputs["h_0"]
    return {"": True,
            "I = 2H": features == D * hidden,  # else the student's code stops at a shape error
            "L > 1": steps > 1,  # else reverse order and forward order are one step
            "h_0": bool(h_0.any()),
            "h_0 of layer 1": bool(h_0[D:].any()),
            "layer 1's h_0 differs": not np.array_equal(h_0[:D], h_0[D:])}[needs]


def _mistake(key: str, title: str, hint: str, needs: str = "", **variant) -> Mistake:
    def compute(inputs: Mapping[str, np.ndarray]) -> Arrays | None:
        return _stacked(inputs, **variant) if _can_show(inputs, needs) else None

    return Mistake(key, title, hint, compute)


MISTAKES = (
    _mistake("layer1_reads_forward_half", "layer 1 fed only the forward half of layer 0's output",
             "Layer 1 reads layer 0's whole output at each step: the forward and the reverse "
             "states side by side (2H features), which is why w_ih_l1 is (H, 2H).",
             layer1_reads="forward_half"),
    _mistake("layer1_reads_sequence", "layer 1 fed the input sequence instead of layer 0's output",
             "Layer 1's input at step t is layer 0's output at step t (both directions), not "
             "x_t; only layer 0 reads the sequence.", needs="I = 2H", layer1_reads="sequence"),
    _mistake("layer0_weights_for_layer1", "layer 0's weights reused for layer 1",
             "Each layer has its own eight tensors: layer 1's end in _l1.",
             needs="I = 2H", layer1_weights=0),
    _mistake("output_of_layer0", "output of layer 0 returned instead of layer 1's",
             "output is the last layer's: layer 1's states, both directions side by side.",
             output_of_layer=0),
    _mistake("hn_direction_major", "h_n in direction-major order",
             f"h_n is ordered layer by layer: {HN_ORDER} (index D * layer + direction).",
             hn_direction_major=True),
    _mistake("h0_direction_major", "h_0 read in direction-major order",
             f"h_0's rows are ordered like h_n's: {HN_ORDER}; layer k's forward direction "
             "starts from h_0[2 * k], its reverse direction from h_0[2 * k + 1].",
             needs="h_0", h0="direction_major"),
    _mistake("reverse_at_forward_index", "reverse outputs stored at the forward time index "
             "(both layers)", "In every layer, the reverse direction's state after reading "
             "step t belongs at time index t. Check where each reverse step is written.",
             needs="L > 1", stored_forward=(0, 1)),
    _mistake("reverse_at_forward_index_l0", "layer 0's reverse outputs stored at the forward "
             "time index", "In layer 0, the reverse state after reading x_t belongs at time "
             "index t, where layer 1 will read it together with the forward state of step t.",
             needs="L > 1", stored_forward=(0,)),
    _mistake("reverse_at_forward_index_l1", "layer 1's reverse outputs stored at the forward "
             "time index", "In layer 1, the reverse state after reading step t belongs at "
             "output[t]. Check where each of its reverse steps is written.",
             needs="L > 1", stored_forward=(1,)),
    _mistake("hn_reverse_from_last_step", "h_n's reverse rows taken at the last time step",
             "Each reverse direction finishes at t = 0, so that is where its final state is.",
             needs="L > 1", reverse_final_at_last=True),
    _mistake("h0_ignored", "h_0 ignored (every state starts at zero)",
             f"Every layer and direction starts from its own row of h_0, in the order {HN_ORDER}.",
             needs="h_0", zero_starts=(0, 1)),
    _mistake("h0_ignored_l1", "layer 1 starts from zero instead of h_0",
             "Layer 1 starts from h_0[2] (forward) and h_0[3] (reverse).",
             needs="h_0 of layer 1", zero_starts=(1,)),
    _mistake("layer1_starts_from_layer0_h0", "layer 1 starts from layer 0's rows of h_0",
             "Layer 1 starts from its own rows of h_0: h_0[2] (forward) and h_0[3] (reverse).",
             needs="layer 1's h_0 differs", h0="layer0_rows"),
)

FORBIDDEN_CALLS = (
    "rnn", "rnn.forward", "RNN", "nn.RNN", "torch.nn.RNN", "RNNBase", "nn.RNNBase",
    "RNNCell", "nn.RNNCell", "torch.nn.RNNCell",
    "LSTM", "nn.LSTM", "torch.nn.LSTM", "LSTMCell", "nn.LSTMCell", "torch.nn.LSTMCell",
    "GRU", "nn.GRU", "torch.nn.GRU", "GRUCell", "nn.GRUCell", "torch.nn.GRUCell",
    "rnn_tanh", "rnn_relu", "rnn_tanh_cell", "rnn_relu_cell", "torch.rnn_tanh", "torch.rnn_relu",
    "torch.rnn_tanh_cell", "torch.rnn_relu_cell", "lstm", "gru", "lstm_cell", "gru_cell",
    "torch.lstm", "torch.gru", "torch.lstm_cell", "torch.gru_cell",
    "_VF", "_VariableFunctions",
)

EXERCISE = Exercise.from_module(
    __name__,
    name="stacked_birnn",
    function="manual_stacked_rnn",
    output_names=("output", "h_n"),
    split_halves=scoring_parts,  # scored and located by layer and direction
    describe_sizes=describe_sizes,
    nbgrader_grade_cell="test_manual_stacked_rnn",
    forbidden_message="manual_stacked_rnn must compute the stacked RNN by hand; calling the "
    "rnn module or any built-in recurrent layer or function (nn.RNN, nn.RNNCell, nn.LSTM, "
    "nn.GRU, torch.rnn_tanh, torch._VF...) is not allowed.",
    half_axes={"output": ("time step", "sequence", "unit"), "h_n": ("sequence", "unit")},
    reference_name="nn.RNN",
    returns="(output, h_n)",
    scoring_parts=SCORING_PARTS,
    structural_sizes=(NUM_LAYERS * D,),
    summary="two-layer bidirectional RNN (tanh): nn.RNN(I, H, num_layers=2, "
    "bidirectional=True)",
)
