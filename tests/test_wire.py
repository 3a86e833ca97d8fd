"""The trust boundary: only well-formed, bounded arrays get through decoding."""

import base64

import numpy as np
import pytest

from grader import wire


def test_round_trip_keeps_dtype_shape_and_values() -> None:
    values = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    decoded = wire.decode_array(wire.encode_array(values), max_elements=100)
    assert decoded.dtype == np.float32 and decoded.shape == (2, 3, 4)
    np.testing.assert_array_equal(decoded, values)


@pytest.mark.parametrize("change, words", [
    ({"dtype": "object"}, "unsupported dtype"),
    ({"dtype": "complex64"}, "unsupported dtype"),
    ({"shape": [2, -3]}, "non-negative"),
    ({"shape": "6"}, "shape must be"),
    ({"shape": [7]}, "byte count"),
    ({"data": 5}, "base64"),
])
def test_malformed_messages_are_refused(change: dict, words: str) -> None:
    message = {**wire.encode_array(np.zeros(6, dtype=np.float32)), **change}
    with pytest.raises(wire.WireError, match=words):
        wire.decode_array(message, max_elements=100)


def test_too_many_elements_are_refused_before_decoding() -> None:
    message = {"dtype": "float64", "shape": [10**6, 10**6],
               "data": base64.b64encode(b"").decode()}
    with pytest.raises(wire.WireError, match="more than the limit"):
        wire.decode_array(message, max_elements=1000)


def test_messages_must_be_json_objects() -> None:
    with pytest.raises(wire.WireError):
        wire.loads(b"\x80\x04pickle")
    with pytest.raises(wire.WireError):
        wire.loads(b"[1, 2]")
