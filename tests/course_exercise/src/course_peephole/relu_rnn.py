"""A course's own exercise, in one file: a one-layer RNN with ReLU, `manual_relu_rnn()`
returning `(output, h_n)` as `nn.RNN(I, H, nonlinearity="relu")(sequence, h_0)` does.
The README's "Write your own exercise" walks through this file."""

from __future__ import annotations

import numpy as np

from grader.exercises.base import CasePlan, Exercise, Mistake

NAMES = {"w_ih_l0": "weight_ih_l0", "w_hh_l0": "weight_hh_l0",
         "b_ih_l0": "bias_ih_l0", "b_hh_l0": "bias_hh_l0"}
SIZES = {"L": 4, "N": 2, "I": 3, "H": 5}


def make_inputs(sizes, seed, zero_h0):
    rng = np.random.default_rng(seed)
    hidden, bound = sizes["H"], 1 / np.sqrt(sizes["H"])
    shapes = {"w_ih_l0": (hidden, sizes["I"]), "w_hh_l0": (hidden, hidden),
              "b_ih_l0": (hidden,), "b_hh_l0": (hidden,)}
    arrays = {name: rng.uniform(-bound, bound, shape).astype(np.float32)
              for name, shape in shapes.items()}
    arrays["sequence"] = rng.standard_normal((sizes["L"], sizes["N"], sizes["I"]))
    arrays["h_0"] = np.zeros((1, sizes["N"], hidden)) if zero_h0 else \
        rng.standard_normal((1, sizes["N"], hidden))
    return {name: np.asarray(value, dtype=np.float32) for name, value in arrays.items()}


def run(inputs, activation=lambda z: np.maximum(z, 0.0)):
    """The recurrence in float64: the reference, and (with another activation) a mistake."""
    w_ih, w_hh, b_ih, b_hh = (inputs[name].astype(np.float64) for name in NAMES)
    h, states = inputs["h_0"][0].astype(np.float64), []
    for x in inputs["sequence"].astype(np.float64):
        h = activation(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        states.append(h)
    return {"output": np.stack(states), "h_n": h[None]}


def rounding_bound(inputs):
    """A simple, generous bound on float32 rounding: 1e-5 relative to each value, plus 1e-5
    (derive a tight one, as the built-in exercises do, before grading a real class)."""
    return {name: 1e-5 * (1 + np.abs(values)) for name, values in run(inputs).items()}


def expected_shape(name, sizes):
    return (sizes["L"], sizes["N"], sizes["H"]) if name == "output" else (1, sizes["N"], sizes["H"])


def child_namespace(sizes, arrays):
    """Runs in the student's process: the notebook's globals for one case."""
    import torch

    rnn = torch.nn.RNN(sizes["I"], sizes["H"], nonlinearity="relu")
    with torch.no_grad():
        for name, parameter in NAMES.items():
            getattr(rnn, parameter).copy_(torch.from_numpy(arrays[name]))
    namespace = {"SEQUENCE_LENGTH": sizes["L"], "BATCH_SIZE": sizes["N"],
                 "INPUT_SIZE": sizes["I"], "HIDDEN_SIZE": sizes["H"], "rnn": rnn,
                 "sequence": torch.from_numpy(arrays["sequence"].copy()),
                 "h_0": torch.from_numpy(arrays["h_0"].copy())}
    namespace.update({name: getattr(rnn, parameter) for name, parameter in NAMES.items()})
    return namespace


EXERCISE = Exercise(
    name="relu_rnn",
    function="manual_relu_rnn",
    output_names=("output", "h_n"),
    notebook_sizes=SIZES,
    case_plans=(
        CasePlan("the notebook's sizes", SIZES, lambda rng: dict(SIZES)),
        CasePlan("one step", {"L": 1, "N": 3, "I": 2, "H": 4},
                 lambda rng: {"L": 1, "N": int(rng.integers(2, 5)), "I": 2, "H": 4},
                 zero_h0=True),
    ),
    make_inputs=make_inputs,
    reference=run,
    rounding_bound=rounding_bound,
    expected_shape=expected_shape,
    explain_shape=lambda name, got, sizes: f"{name} is {expected_shape(name, sizes)}.",
    split_halves=lambda name, values: {name: values},
    describe_sizes=lambda sizes: ", ".join(f"{k}={v}" for k, v in sizes.items()),
    child_module=__name__,
    mistakes=(Mistake("tanh", "tanh instead of ReLU", "This RNN uses ReLU.",
                      lambda inputs: run(inputs, np.tanh)),),
    forbidden_calls=("rnn", "gru", "lstm"),
    forbidden_message="manual_relu_rnn must compute the RNN by hand.",
    half_axes={"output": ("time step", "sequence", "unit"), "h_n": ("sequence", "unit")},
    reference_name="nn.RNN(relu)",
    summary="a course's own: one-layer RNN with ReLU",
)
