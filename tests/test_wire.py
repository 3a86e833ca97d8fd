"""The trust boundary: only well-formed, bounded arrays get through decoding."""

import base64
import os
import struct
import time

import numpy as np
import pytest

from grader.isolation import wire


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


def _pair() -> tuple[int, int]:
    import socket

    ours, theirs = socket.socketpair()
    os.set_blocking(ours.fileno(), False)
    return ours.detach(), theirs.detach()


def test_a_frame_shorter_than_its_header_promises_times_out_at_the_deadline() -> None:
    ours, theirs = _pair()
    os.write(theirs, struct.pack("!I", 4096) + b"{")
    started = time.monotonic()
    with pytest.raises(wire.WireTimeout):
        wire.receive_frame(ours, 10_000, time.monotonic() + 0.3)
    assert time.monotonic() - started < 2


def test_a_frame_larger_than_the_cap_is_refused_before_it_is_read() -> None:
    ours, theirs = _pair()
    os.write(theirs, struct.pack("!I", 2**31))
    with pytest.raises(wire.WireTooLarge):
        wire.receive_frame(ours, 10_000, time.monotonic() + 1)


def test_a_closed_peer_is_reported_as_closed() -> None:
    ours, theirs = _pair()
    os.write(theirs, struct.pack("!I", 10) + b"abc")
    os.close(theirs)
    with pytest.raises(wire.WireClosed):
        wire.receive_frame(ours, 10_000, time.monotonic() + 1)


def test_frames_round_trip() -> None:
    ours, theirs = _pair()
    wire.send_frame(theirs, wire.dumps({"op": "run", "x": [1, 2]}))
    assert wire.loads(wire.receive_frame(ours, 1000, time.monotonic() + 1)) == \
        {"op": "run", "x": [1, 2]}


@pytest.mark.parametrize("raw, words", [
    (b"[" * 100 + b"]" * 100, "nested deeper"),
    (b'{"a": [' + b"1," * 200_000 + b"1]}", "characters of structure"),
])
def test_deep_or_huge_structure_is_refused_before_parsing(raw: bytes, words: str) -> None:
    with pytest.raises(wire.WireError, match=words):
        wire.loads(raw)


def test_brackets_inside_strings_are_not_structure() -> None:
    assert wire.loads(b'{"a": "[[[[[[[[[[[[[[\\"]]]]"}') == {"a": '[[[[[[[[[[[[[["]]]]'}
