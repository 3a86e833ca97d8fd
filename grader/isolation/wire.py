"""Plain-data messages between the grading process and the child: JSON, never pickle.

Each message is a frame: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
Arrays travel as {"dtype", "shape", "data": base64}. Reading is the trust boundary: every read
from a child has a deadline and a size cap, the JSON's nesting and element count are capped
before it is parsed, and only whitelisted dtypes, a bounded size, and a byte count that
matches the shape get through decoding.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import struct
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

ALLOWED_DTYPES = ("float16", "bfloat16", "float32", "float64", "int64", "int32", "bool")
_NUMPY_DTYPES = {"bfloat16": None}  # numpy has no bfloat16: the child widens it to float32


MAX_DEPTH = 8  # the deepest legitimate message: {"values": [{"shape": [..]}]}
MAX_STRUCTURE = 100_000  # characters of JSON outside strings: brackets, numbers, commas
_HEADER = struct.Struct("!I")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, unrolled: linear


class WireError(ValueError):
    """What came back from the child is not a well-formed message."""


class WireTimeout(WireError):
    """The other side did not finish a frame before the deadline."""


class WireClosed(WireError):
    """The other side closed its end (or died) before a whole frame arrived."""


class WireTooLarge(WireError):
    """A frame announced more bytes than the reader accepts."""


def send_frame(fd: int, payload: bytes, deadline: float | None = None) -> None:
    """Write one frame; with a deadline the descriptor must be non-blocking."""
    _write_all(fd, _HEADER.pack(len(payload)) + payload, deadline)


def receive_frame(fd: int, max_bytes: int, deadline: float | None = None) -> bytes:
    """Read one frame of at most `max_bytes`; with a deadline, never wait past it (the
    descriptor must then be non-blocking)."""
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if length > max_bytes:
        raise WireTooLarge(f"a message of {length} bytes, more than the {max_bytes} accepted")
    return _read_exactly(fd, length, deadline)


def _wait(fd: int, event: int, deadline: float | None) -> None:
    if deadline is None:
        return
    poller = select.poll()
    poller.register(fd, event)
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not poller.poll(remaining * 1000):
        raise WireTimeout("no complete message before the deadline")


def _read_exactly(fd: int, count: int, deadline: float | None) -> bytes:
    chunks, missing = [], count
    while missing:
        _wait(fd, select.POLLIN, deadline)
        try:
            chunk = os.read(fd, min(missing, 1 << 20))
        except BlockingIOError:
            continue
        except OSError as error:
            raise WireClosed(f"the connection broke ({error.strerror})") from None
        if not chunk:
            raise WireClosed("the other side closed the connection")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, deadline: float | None) -> None:
    view = memoryview(data)
    while view:
        _wait(fd, select.POLLOUT, deadline)
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            continue
        except OSError as error:
            raise WireClosed(f"the connection broke ({error.strerror})") from None


def check_structure(raw: bytes) -> None:
    """Refuse deep nesting or a flood of elements before json.loads ever sees them."""
    structure = _STRING.sub(b'""', raw)
    if len(structure) > MAX_STRUCTURE:
        raise WireError(f"{len(structure)} characters of structure, more than "
                        f"{MAX_STRUCTURE} allowed")
    depth = 0
    for byte in structure:
        if byte in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise WireError(f"nested deeper than {MAX_DEPTH} levels")
        elif byte in b"]}":
            depth -= 1


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
    check_structure(raw)
    try:
        message = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"not a JSON message: {error}") from None
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message
