"""The few protobuf encodings the stand-in provider writes (proto3 wire format)."""

from __future__ import annotations


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field_number: int, wire_type: int) -> bytes:
    return varint(field_number << 3 | wire_type)


def varint_field(field_number: int, value: int) -> bytes:
    return _key(field_number, 0) + varint(value) if value else b""


def boolean(field_number: int, value: bool) -> bytes:
    return varint_field(field_number, 1 if value else 0)


def raw(field_number: int, data: bytes) -> bytes:
    return _key(field_number, 2) + varint(len(data)) + data


def string(field_number: int, text: str) -> bytes:
    return raw(field_number, text.encode())


def message(field_number: int, encoded: bytes) -> bytes:
    return raw(field_number, encoded)
