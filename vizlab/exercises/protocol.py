"""The results protocol: how the sandbox sends back what a notebook's functions returned.

Frame: ``b"VZ1"``, 4-byte big-endian header length, 4-byte blob length, a JSON header, then the raw bytes of the
tensors the header describes. The reader (trusted side, :func:`read_frames`) checks sizes, types and shapes
before it allocates anything; each record kind has a fixed schema (:data:`_SCHEMA`).

Two kinds carry the run-time report of the no-loops rule (:func:`vizlab.exercises.student._run_report`): ``hello``,
the first frame of every run, with a token the harness made before any cell ran, and ``ran``, one per graded call:
the ``(cell, first line, kind)`` of each judged code object that started during it (cell ``-1``: a magic body;
line ``0``: a cell's top level; kind: one of :data:`CODE_KINDS`), ``whole`` (the call was not stopped by the
grader), ``hit`` (the kind of the watch's verdict, if any) and the token again. They are built by hand from
built-in types (no ``json`` on the sandbox side); the reader checks them like any other frame. Each ``ran`` frame
is followed, in the same write, by the call's ``case`` frame, which :func:`encode_frame` made while the sandbox's
watch was on (round 20).
"""
from __future__ import annotations

import json
import os
import struct
from typing import Any

MAX_FRAME = 16 * 2**20
MAX_HEADER = 2**20
MAX_STR = 20000
MAX_ITEMS = 64
MAX_DEPTH = 4
MAGIC = b"VZ1"
MAX_RAN = 4096  # (cell, line, kind) codes in one ``ran`` frame; beyond that the report is cut and not whole
# a code object's kind in a ``ran`` frame: its name for a lambda or a comprehension, "" for a def, a class or a cell's
# top level. Two code objects can start on one line (a lambda made in a comprehension); their kinds tell them apart,
# so one is not charged the other's loops. (Defs and classes need no name: no two start on one line.)
CODE_KINDS = ("", "<lambda>", "<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>")


# dtype name -> item size; the only dtypes a result tensor may have.
DTYPES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
          "int8": 1, "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16}


# --- writing (sandbox side) ------------------------------------------------------------------------------------

def _sanitize(value: Any, depth: int = 0) -> Any:
    import numpy as np
    import torch

    if depth > MAX_DEPTH:
        return {"__unsupported__": "deeply nested value"}
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().as_subclass(torch.Tensor).clone().contiguous()
    if isinstance(value, np.ndarray) and value.dtype != object:
        return torch.from_numpy(np.ascontiguousarray(value)).clone()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, list)) and len(value) <= MAX_ITEMS:
        return [_sanitize(v, depth + 1) for v in value]
    return {"__unsupported__": type(value).__name__}


def encode_frame(record: dict) -> bytes:
    """``record`` (strings, numbers, lists and CPU tensors) as one frame."""
    import torch

    blobs: list[bytes] = []
    offset = 0

    def walk(value: Any) -> Any:
        nonlocal offset
        if isinstance(value, torch.Tensor):
            name = str(value.dtype).replace("torch.", "")
            if name not in DTYPES:
                return {"__unsupported__": f"tensor of dtype {name}"}
            data = value.contiguous().view(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b""
            entry = {"__t__": [name, list(value.shape), offset, len(data)]}
            blobs.append(data)
            offset += len(data)
            return entry
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {str(k): walk(v) for k, v in value.items()}
        if isinstance(value, str):
            return value[:MAX_STR]
        if isinstance(value, float) and value != value:
            return {"__float__": "nan"}
        if isinstance(value, float) and value in (float("inf"), float("-inf")):
            return {"__float__": "inf" if value > 0 else "-inf"}
        return value

    header = json.dumps(walk(record)).encode()
    blob = b"".join(blobs)
    if len(blob) > MAX_FRAME or len(header) > MAX_HEADER:
        small = {k: v for k, v in record.items() if k != "value"}
        small.update(value=None, error=f"the result is too large to send back ({len(blob)} bytes)")
        header, blob = json.dumps(walk(small)).encode(), b""
    return MAGIC + struct.pack(">II", len(header), len(blob)) + header + blob


def write_frame(fd: int, record: dict) -> None:
    data = encode_frame(record)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# --- reading (trusted side) ------------------------------------------------------------------------------------

_SCHEMA: dict[str, dict[str, tuple]] = {
    # kind: {field: (allowed types...)}; every field is required, no other field is allowed
    "cell": {"index": (int,)},
    "cell_error": {"index": (int,), "error": (str,)},
    "missing": {"exercise": (str,)},
    "function": {"exercise": (str,), "source": (str, type(None)), "loops": (list,)},
    "case": {"exercise": (str,), "case": (int,), "value": (object,), "error": (str, type(None)),
             "seconds": (float, int), "forbidden": (list,), "loops": (list,)},
    "threads": {"count": (int,)},
    "hello": {"token": (str,)},
    "ran": {"exercise": (str,), "case": (int,), "codes": (list,), "whole": (int,), "hit": (str,), "token": (str,)},
    "done": {},
}


class BadFrame(ValueError):
    """A frame that does not follow the schema."""


def _decode_value(value: Any, blob: bytes, cursor: list[int], depth: int = 0) -> Any:
    import numpy as np
    import torch

    if depth > MAX_DEPTH + 2:
        raise BadFrame("value nested too deeply")
    if value is None or isinstance(value, (bool, int, float)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63:
            raise BadFrame("integer out of range")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STR:
            raise BadFrame("string too long")
        return value
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise BadFrame("list too long")
        return [_decode_value(v, blob, cursor, depth + 1) for v in value]
    if isinstance(value, dict) and set(value) == {"__unsupported__"} and isinstance(value["__unsupported__"], str):
        return {"__unsupported__": value["__unsupported__"][:200]}
    if isinstance(value, dict) and set(value) == {"__float__"} and value["__float__"] in ("nan", "inf", "-inf"):
        return float(value["__float__"])
    if isinstance(value, dict) and set(value) == {"__t__"}:
        spec = value["__t__"]
        if not (isinstance(spec, list) and len(spec) == 4):
            raise BadFrame("bad tensor description")
        dtype, shape, offset, nbytes = spec
        if dtype not in DTYPES or not isinstance(shape, list) or len(shape) > 8:
            raise BadFrame("bad tensor dtype or shape")
        numel = 1
        for s in shape:
            if not isinstance(s, int) or isinstance(s, bool) or s < 0 or s > MAX_FRAME:
                raise BadFrame("bad tensor shape")
            numel *= s
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (offset, nbytes)):
            raise BadFrame("bad tensor offset")
        # the sizes must add up before anything is allocated: no stride tricks, no claims beyond the bytes sent;
        # each tensor takes the next bytes of the blob, so no two descriptions share (alias) the same bytes
        if numel * DTYPES[dtype] != nbytes or offset != cursor[0] or offset + nbytes > len(blob):
            raise BadFrame("tensor size does not match its bytes")
        cursor[0] += nbytes
        raw = np.frombuffer(blob, dtype=np.uint8, count=nbytes, offset=offset).copy()
        t = torch.from_numpy(raw)
        if nbytes == 0:
            return torch.empty(shape, dtype=getattr(torch, dtype))
        return t.view(getattr(torch, dtype)).reshape(shape)
    raise BadFrame(f"unexpected value of type {type(value).__name__}")


def parse_frame(header: Any, blob: bytes) -> dict:
    """Check one decoded header against :data:`_SCHEMA`; tensors are rebuilt from ``blob``."""
    if not isinstance(header, dict) or header.get("kind") not in _SCHEMA:
        raise BadFrame("unknown record kind")
    fields = _SCHEMA[header["kind"]]
    cursor = [0]  # how much of the blob the tensors described so far have taken
    if set(header) != set(fields) | {"kind"}:
        raise BadFrame("unexpected or missing fields")
    record = {"kind": header["kind"]}
    for name, allowed in fields.items():
        value = header[name]
        if allowed != (object,):
            if isinstance(value, bool) or not isinstance(value, allowed):
                raise BadFrame(f"field {name} has the wrong type")
        if name in ("forbidden", "loops"):
            if len(value) > MAX_ITEMS or not all(isinstance(v, str) and len(v) <= 500 for v in value):
                raise BadFrame(f"field {name} is not a short list of strings")
        if name == "codes" and (len(value) > MAX_RAN or not all(
                isinstance(c, list) and len(c) == 3 and type(c[0]) is int and type(c[1]) is int
                and -1 <= c[0] < 10**6 and 0 <= c[1] < 10**7 and c[2] in CODE_KINDS for c in value)):
            raise BadFrame("field codes is not a short list of (cell, line, kind) triples")
        if name == "whole" and value not in (0, 1):
            raise BadFrame("field whole is not 0 or 1")
        if name == "hit" and value not in ("", "vizlab", "file"):
            raise BadFrame("field hit is not a verdict of the watch")
        if name == "token" and len(value) > 64:
            raise BadFrame("field token is too long")
        if isinstance(value, str) and len(value) > MAX_STR:
            raise BadFrame(f"field {name} is too long")
        if name in ("index", "case", "count") and not 0 <= value < 10**6:
            raise BadFrame(f"field {name} is out of range")
        record[name] = _decode_value(value, blob, cursor) if name == "value" else value
    if cursor[0] != len(blob):
        raise BadFrame("the frame carries bytes that no tensor describes")
    return record


def read_frames(data: bytes) -> tuple[list[dict], int]:
    """The frames in ``data`` and how many could not be read (a broken frame ends the stream)."""
    frames, bad, pos = [], 0, 0
    while pos < len(data):
        if len(data) - pos < 11 or data[pos:pos + 3] != MAGIC:
            return frames, bad + 1
        hlen, blen = struct.unpack(">II", data[pos + 3:pos + 11])
        pos += 11
        if hlen > MAX_HEADER or blen > MAX_FRAME or pos + hlen + blen > len(data):
            return frames, bad + 1
        try:
            header = json.loads(data[pos:pos + hlen].decode("utf-8"))
            frames.append(parse_frame(header, data[pos + hlen:pos + hlen + blen]))
        except (BadFrame, ValueError, RecursionError, UnicodeDecodeError, TypeError, OverflowError, RuntimeError):
            bad += 1
        pos += hlen + blen
    return frames, bad


def parse_status(data: bytes) -> dict | None:
    """The report on how a notebook ended ``{"signal", "code", "leftovers", "cap", "requests"}``, checked field by
    field (``cap``: why the watchdog stopped it, or ``None``; ``requests``: the bytes its init received on the pipe
    the harness asks for the cases with, one when all went well, ``None`` when the watchdog stopped it)."""
    try:
        report = json.loads(data.decode("utf-8")) if data else None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(report, dict) or set(report) != {"signal", "code", "leftovers", "cap", "requests"}:
        return None
    if report["cap"] is not None and not (isinstance(report["cap"], str) and len(report["cap"]) < 1000):
        return None
    for key in ("signal", "code", "leftovers", "requests"):
        value = report[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**16):
            return None
    return report
