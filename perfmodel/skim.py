"""Read an ONNX file's ModelProto without its large weight payloads.

Why: analysis needs every tensor's dims and dtype but never the weight values, and parsing a
200 MB file the ordinary way holds the file and the parsed message at once (two copies, about a
second for ResNet-152). Here the file is walked at the protobuf wire level with positioned reads:
the bytes of large initializers' data fields are skipped (never read, not even mapped), everything
else is copied into a small buffer that protobuf then parses as usual.

Wire format (protobuf encoding spec): each field is a varint key (field_number << 3 | wire_type)
followed by a varint (type 0), 8 bytes (1), a varint length and that many bytes (2), or 4 bytes (5).
"""

from __future__ import annotations

import os

MODEL_GRAPH = 7  # ModelProto.graph
GRAPH_INITIALIZER = 5  # GraphProto.initializer
TENSOR_DATA_FIELDS = frozenset({4, 5, 6, 7, 9, 10, 11})  # float/int32/string/int64/raw/double/uint64 data
KEEP_DATA_BYTES = 1 << 15
"""Initializers with at most this much data keep it: shape tensors and small constants get folded."""


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class _File:
    """Positioned reads (pread): no shared offset, no read-ahead of the parts we skip."""

    def __init__(self, fd: int, size: int):
        self.fd, self.size = fd, size

    def read(self, pos: int, n: int) -> bytes:
        data = os.pread(self.fd, n, pos)
        if len(data) < n:
            raise WireError("unexpected end of file (truncated?)")
        return data


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise WireError("truncated or malformed varint")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7


def _fields(f: _File, start: int, end: int):
    """Yield (field_number, wire_type, field_start, payload_start, field_end) for each field."""
    pos = start
    while pos < end:
        head = f.read(pos, min(20, end - pos))
        key, i = _varint(head, 0)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i2 = _varint(head, i)
            payload, stop = pos + i, pos + i2
        elif wire == 1:
            payload, stop = pos + i, pos + i + 8
        elif wire == 2:
            length, i = _varint(head, i)
            payload, stop = pos + i, pos + i + length
        elif wire == 5:
            payload, stop = pos + i, pos + i + 4
        else:
            raise WireError(f"unsupported wire type {wire}")
        if stop > end or number == 0:
            raise WireError("field runs past the end of the message (truncated file?)")
        yield number, wire, pos, payload, stop
        pos = stop


def _key_and_length(number: int, length: int) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(length)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tensor_without_data(f: _File, start: int, end: int) -> bytes | None:
    """The TensorProto's bytes minus its data fields, or None when its data is small enough to keep."""
    fields = list(_fields(f, start, end))
    data = sum(stop - payload for number, _, _, payload, stop in fields if number in TENSOR_DATA_FIELDS)
    if data <= KEEP_DATA_BYTES:
        return None
    return b"".join(f.read(s, stop - s) for number, _, s, _, stop in fields if number not in TENSOR_DATA_FIELDS)


def _graph_without_weights(f: _File, start: int, end: int) -> bytes:
    parts: list[bytes] = []
    for number, wire, field_start, payload, stop in _fields(f, start, end):
        if number == GRAPH_INITIALIZER and wire == 2:
            stripped = _tensor_without_data(f, payload, stop)
            if stripped is not None:
                parts.append(_key_and_length(number, len(stripped)) + stripped)
                continue
        parts.append(f.read(field_start, stop - field_start))
    return b"".join(parts)


def skim_model_bytes(path: str) -> bytes:
    """The serialized ModelProto of `path` with large initializers' data removed (dims kept)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        f = _File(fd, os.fstat(fd).st_size)
        parts: list[bytes] = []
        for number, wire, field_start, payload, stop in _fields(f, 0, f.size):
            if number == MODEL_GRAPH and wire == 2:
                graph = _graph_without_weights(f, payload, stop)
                parts.append(_key_and_length(number, len(graph)) + graph)
            else:
                parts.append(f.read(field_start, stop - field_start))
        return b"".join(parts)
    finally:
        os.close(fd)
