"""Plain-data messages between the grading process and the child: JSON, never pickle.

Arrays travel as {"dtype", "shape", "data": base64}. Decoding is the trust boundary: only
whitelisted dtypes, a bounded size, and a byte count that matches the shape get through.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

ALLOWED_DTYPES = ("float16", "bfloat16", "float32", "float64", "int64", "int32", "bool")
_NUMPY_DTYPES = {"bfloat16": None}  # numpy has no bfloat16: the child widens it to float32


class WireError(ValueError):
    """What came back from the child is not a well-formed message."""


def encode_array(values: np.ndarray) -> dict[str, Any]:
    values = np.ascontiguousarray(values)
    return {"dtype": str(values.dtype), "shape": list(values.shape),
            "data": base64.b64encode(values.tobytes()).decode("ascii")}


def decode_array(message: Mapping[str, Any], max_elements: int) -> np.ndarray:
    """Rebuild an array from a message, refusing anything malformed or too large."""
    if not isinstance(message, Mapping):
        raise WireError("an array message must be an object")
    dtype, shape, data = message.get("dtype"), message.get("shape"), message.get("data")
    if dtype not in ALLOWED_DTYPES or dtype in _NUMPY_DTYPES:
        raise WireError(f"unsupported dtype {dtype!r}")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("shape must be a list of non-negative integers")
    if len(shape) > 8:
        raise WireError(f"too many dimensions ({len(shape)})")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count > max_elements:
        raise WireError(f"{count} elements, more than the limit of {max_elements}")
    if not isinstance(data, str):
        raise WireError("data must be base64 text")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise WireError("byte count does not match the shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def dumps(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, allow_nan=False).encode("utf-8")


def loads(raw: bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"not a JSON message: {error}") from None
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message
