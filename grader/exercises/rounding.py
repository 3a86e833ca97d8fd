"""The arithmetic of the built-in exercises' float32 rounding bounds, in float64.

u is float32's unit roundoff; a sum of n terms, each product rounded once, is off by at most
gamma_n * sum|terms| in any order and grouping (Higham, Accuracy and Stability, 3.1). sigmoid
and tanh are monotone with their steepest slope at 0, so an error e in a pre-activation z moves
the value by at most e times the largest slope within e of z (`largest_slope`). `tanh_layer`
carries such a bound through one tanh layer (the RNN exercises); the LSTM and GRU exercises
build theirs from the same pieces. Each exercise adds its own allowance for evaluating the
nonlinearities themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

UNIT_ROUNDOFF_F32 = 2.0**-24
TANH_ULPS = 4.0  # float32 tanh is accurate to a few units in the last place


def gamma(terms: int) -> float:
    """gamma_n = n u / (1 - n u): a float32 sum of n terms errs by at most gamma_n sum|terms|."""
    return terms * UNIT_ROUNDOFF_F32 / (1 - terms * UNIT_ROUNDOFF_F32)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


def sigmoid_slope(z: np.ndarray) -> np.ndarray:
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh_slope(z: np.ndarray) -> np.ndarray:
    return 1.0 - np.tanh(z) ** 2


def largest_slope(slope: Callable[[np.ndarray], np.ndarray], pre: np.ndarray,
                  pre_error: np.ndarray) -> np.ndarray:
    """The largest value of `slope` (even, steepest at 0) within pre_error of pre."""
    return slope(np.maximum(np.abs(pre) - pre_error, 0.0))


Direction = tuple[Sequence[np.ndarray], np.ndarray, bool]
"""One direction of a tanh layer: its (w_ih, b_ih, w_hh, b_hh) in float64, its initial state
(N, H) and whether it walks from the last step to the first."""


def tanh_layer(x: np.ndarray, x_error: np.ndarray,
               directions: Sequence[Direction]) -> tuple[np.ndarray, np.ndarray, list, list]:
    """One tanh layer, h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), in float64 beside
    the bound of each element of any float32 evaluation of it.

    x (L, N, F) is what the layer reads and x_error (L, N, F) how far a float32 evaluation may
    have it wrong (zero for the sequence itself). Each step sums n = F + H + 2 terms, so the
    pre-activation errs by gamma_n sum|terms| (the terms taken with |x| + e_x and |h| + e_h)
    plus |W_ih| e_x + |W_hh| e_h carried in; tanh passes that on times its largest slope and
    adds TANH_ULPS u |h_t|. Returns output (L, N, D*H), its bound, and per direction the final
    state and its bound.
    """
    steps = x.shape[0]
    halves, half_errors, finals, final_errors = [], [], [], []
    for (w_ih, b_ih, w_hh, b_hh), h, reverse in directions:
        hidden = w_hh.shape[0]
        factor = gamma(x.shape[2] + hidden + 2)
        error = np.zeros_like(h)
        states, bounds = np.zeros(x.shape[:2] + (hidden,)), np.zeros(x.shape[:2] + (hidden,))
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            pre = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (N, H)
            magnitude = (np.abs(x[t]) + x_error[t]) @ np.abs(w_ih).T + np.abs(b_ih) \
                + np.abs(b_hh) + (np.abs(h) + error) @ np.abs(w_hh).T
            pre_error = factor * magnitude + x_error[t] @ np.abs(w_ih).T + error @ np.abs(w_hh).T
            h = np.tanh(pre)
            error = largest_slope(tanh_slope, pre, pre_error) * pre_error \
                + TANH_ULPS * UNIT_ROUNDOFF_F32 * np.abs(h)
            states[t], bounds[t] = h, error
        halves.append(states)
        half_errors.append(bounds)
        finals.append(h)
        final_errors.append(error)
    return (np.concatenate(halves, axis=2), np.concatenate(half_errors, axis=2), finals,
            final_errors)
