"""A TFLite model file read into a PyTorch module: a small flatbuffer reader and the ops BlazePose uses.

TFLite models are FlatBuffers (tensorflow/lite/schema/schema.fbs). This reads exactly what running a float
model needs (tensors, constant buffers, sparsity, operators and their options) with `struct`, no generated
code and no TensorFlow. Constant sub-graphs (DEQUANTIZE of fp16 weights, DENSIFY of sparse weights) are
evaluated once at load; the remaining operators become a list of torch calls on NCHW tensors.

Supported operators: exactly those of MediaPipe's BlazePose detector and full landmark model (PAD,
DEQUANTIZE of fp16 constants, DENSIFY of sparse constants, CONV_2D, DEPTHWISE_CONV_2D, ADD, MAX_POOL_2D,
RESIZE_BILINEAR, DEPTH_TO_SPACE, CONCATENATION, RESHAPE, LOGISTIC). Anything else is refused when the
model is loaded, by name, rather than run wrongly.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual alias)
from torch import nn

# BuiltinOperator codes (schema.fbs) of the operators understood here.
OPCODES = {
    0: "ADD",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE",
    6: "DEQUANTIZE",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    34: "PAD",
    124: "DENSIFY",
}
# TensorType -> numpy dtype.
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_, 7: np.int16, 9: np.int8}
ACTIVATIONS = {0: None, 1: "relu", 3: "relu6"}
SAME, VALID = 0, 1


class TFLiteError(ValueError):
    """The file is not a TFLite model this reader can run."""


class _Table:
    """One FlatBuffers table: typed access to its fields by field index (the order in schema.fbs)."""

    __slots__ = ("buf", "pos", "vtable", "vtable_len")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_len = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, index: int) -> int | None:
        entry = 4 + 2 * index
        if entry >= self.vtable_len:
            return None
        offset = struct.unpack_from("<H", self.buf, self.vtable + entry)[0]
        return self.pos + offset if offset else None

    def scalar(self, index: int, fmt: str, default: Any = 0) -> Any:
        at = self._field(index)
        return default if at is None else struct.unpack_from("<" + fmt, self.buf, at)[0]

    def _target(self, index: int) -> int | None:
        at = self._field(index)
        return None if at is None else at + struct.unpack_from("<I", self.buf, at)[0]

    def table(self, index: int) -> _Table | None:
        at = self._target(index)
        return None if at is None else _Table(self.buf, at)

    def string(self, index: int) -> str:
        at = self._target(index)
        if at is None:
            return ""
        n = struct.unpack_from("<I", self.buf, at)[0]
        return self.buf[at + 4 : at + 4 + n].decode("utf-8", "replace")

    def vector(self, index: int, dtype: Any) -> np.ndarray:
        """A vector of scalars as a numpy array (a copy-free view of the file's bytes)."""
        at = self._target(index)
        if at is None:
            return np.zeros(0, dtype=dtype)
        n = struct.unpack_from("<I", self.buf, at)[0]
        return np.frombuffer(self.buf, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=at + 4)

    def tables(self, index: int) -> list[_Table]:
        at = self._target(index)
        if at is None:
            return []
        n = struct.unpack_from("<I", self.buf, at)[0]
        out = []
        for k in range(n):
            element = at + 4 + 4 * k
            out.append(_Table(self.buf, element + struct.unpack_from("<I", self.buf, element)[0]))
        return out


@dataclass
class Tensor:
    """A tensor of the graph. shape: NHWC as TFLite stores it; data: the constant's value, else None."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: Any
    data: np.ndarray | None = None
    sparsity: _Table | None = None


@dataclass
class Operator:
    """One node: its operator name, input and output tensor indices (-1: optional input left out), options."""

    name: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """The main subgraph of a model file."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def read_graph(path: Path | str) -> Graph:
    """Parse a `.tflite` file's first subgraph. Raises TFLiteError for a file that is not one."""
    buf = Path(path).read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise TFLiteError(f"{Path(path).name} is not a TFLite model (no TFL3 identifier)")
    model = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
    codes = []
    for code in model.tables(1):
        builtin = max(code.scalar(0, "b", 0), code.scalar(3, "i", 0))  # deprecated byte code, or the int32 one
        if builtin not in OPCODES:
            raise TFLiteError(f"{Path(path).name} uses operator {builtin} (builtin code), which is not supported")
        codes.append(OPCODES[builtin])
    buffers = model.tables(4)
    subgraphs = model.tables(2)
    if not subgraphs:
        raise TFLiteError(f"{Path(path).name} has no subgraph")
    graph = subgraphs[0]
    tensors = []
    for i, t in enumerate(graph.tables(0)):
        type_code = t.scalar(1, "b", 0)
        if type_code not in DTYPES:
            raise TFLiteError(f"tensor {t.string(3)} has unsupported type {type_code}")
        dtype = DTYPES[type_code]
        data = None
        buffer_index = t.scalar(2, "I", 0)
        if 0 < buffer_index < len(buffers):
            raw = buffers[buffer_index].vector(0, np.uint8)
            if raw.size:
                data = np.frombuffer(raw.tobytes(), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
        shape = tuple(int(s) for s in t.vector(0, np.int32))
        tensors.append(Tensor(i, t.string(3), shape, dtype, data, t.table(6)))
    operators = []
    for op in graph.tables(3):
        name = codes[op.scalar(0, "I", 0)]
        options = op.table(4)
        operators.append(
            Operator(
                name,
                [int(x) for x in op.vector(1, np.int32)],
                [int(x) for x in op.vector(2, np.int32)],
                _options(name, options) if options is not None else {},
            )
        )
    return Graph(
        tensors,
        operators,
        [int(x) for x in graph.vector(1, np.int32)],
        [int(x) for x in graph.vector(2, np.int32)],
    )


def _options(name: str, t: _Table) -> dict[str, Any]:
    """The builtin options of an operator, by the field order of its options table in schema.fbs."""
    if name == "CONV_2D":
        return {
            "padding": t.scalar(0, "b"),
            "stride": (t.scalar(2, "i", 1), t.scalar(1, "i", 1)),
            "activation": t.scalar(3, "b"),
            "dilation": (t.scalar(5, "i", 1), t.scalar(4, "i", 1)),
        }
    if name == "DEPTHWISE_CONV_2D":
        return {
            "padding": t.scalar(0, "b"),
            "stride": (t.scalar(2, "i", 1), t.scalar(1, "i", 1)),
            "multiplier": t.scalar(3, "i", 1),
            "activation": t.scalar(4, "b"),
            "dilation": (t.scalar(6, "i", 1), t.scalar(5, "i", 1)),
        }
    if name == "MAX_POOL_2D":
        return {
            "padding": t.scalar(0, "b"),
            "stride": (t.scalar(2, "i", 1), t.scalar(1, "i", 1)),
            "kernel": (t.scalar(4, "i", 1), t.scalar(3, "i", 1)),
            "activation": t.scalar(5, "b"),
        }
    if name == "ADD":
        return {"activation": t.scalar(0, "b")}
    if name == "CONCATENATION":
        return {"axis": t.scalar(0, "i"), "activation": t.scalar(1, "b")}
    if name == "RESHAPE":
        return {"new_shape": [int(x) for x in t.vector(0, np.int32)]}
    if name == "RESIZE_BILINEAR":
        return {"align_corners": bool(t.scalar(2, "B")), "half_pixel_centers": bool(t.scalar(3, "B"))}
    if name == "DEPTH_TO_SPACE":
        return {"block": t.scalar(0, "i", 1)}
    return {}


def densify(values: np.ndarray, shape: Sequence[int], sparsity: _Table) -> np.ndarray:
    """A sparse constant as a dense array of `shape`.

    values: (nnz,) the stored values in traversal order. sparsity: TFLite's SparsityParameters, each
    traversed dimension DENSE or SPARSE_CSR (segments + indices); block-sparse layouts are refused.
    """
    order = [int(x) for x in sparsity.vector(0, np.int32)]
    if len(sparsity.vector(1, np.int32)):
        raise TFLiteError("block-sparse tensors are not supported")
    levels = sparsity.tables(2)
    if sorted(order) != list(range(len(shape))) or len(levels) != len(shape):
        raise TFLiteError("sparse tensor: traversal order and dimension metadata disagree with its shape")
    coords: np.ndarray = np.zeros((1, 0), dtype=np.int64)
    position: np.ndarray = np.zeros(1, dtype=np.int64)  # index into the next level's segments (or dense block)
    for level in levels:
        if level.scalar(0, "b", 0) == 0:  # DENSE
            size = level.scalar(1, "i", 0)
            inner = np.tile(np.arange(size, dtype=np.int64), len(position))
            coords = np.concatenate([np.repeat(coords, size, axis=0), inner[:, None]], axis=1)
            position = np.repeat(position, size) * size + inner
        else:  # SPARSE_CSR
            segments, indices = _index_vector(level, 2), _index_vector(level, 4)
            counts = segments[position + 1] - segments[position]
            starts = np.repeat(segments[position] - np.cumsum(counts) + counts, counts)
            position = starts + np.arange(int(counts.sum()), dtype=np.int64)
            coords = np.concatenate([np.repeat(coords, counts, axis=0), indices[position][:, None]], axis=1)
    if len(coords) != values.size:
        raise TFLiteError(f"sparse tensor: {values.size} values for {len(coords)} positions")
    dense = np.zeros(tuple(shape), dtype=values.dtype)
    axes = np.empty_like(coords)
    axes[:, order] = coords
    dense[tuple(axes.T)] = values
    return dense


def _index_vector(meta: _Table, type_field: int) -> np.ndarray:
    """A SparseIndexVector union (Int32Vector, Uint16Vector or Uint8Vector) as an int array."""
    kind = meta.scalar(type_field, "B", 0)
    table = meta.table(type_field + 1)
    if table is None or kind not in (1, 2, 3):
        return np.zeros(0, dtype=np.int64)
    dtype = {1: np.int32, 2: np.uint16, 3: np.uint8}[kind]
    return table.vector(0, dtype).astype(np.int64)


# --- torch ------------------------------------------------------------------------------------------------

_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def _activate(x: torch.Tensor, code: int) -> torch.Tensor:
    """A fused activation, in place (`x` is always an operator's fresh output)."""
    kind = ACTIVATIONS.get(code, "unsupported")
    if kind is None:
        return x
    if kind == "relu":
        return x.clamp_(min=0.0)
    if kind == "relu6":
        return x.clamp_(0.0, 6.0)
    raise TFLiteError(f"fused activation {code} is not supported")


def _same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding of one dimension: (before, after); the odd pixel goes after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pad_same(
    x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], value: float = 0.0
) -> tuple[torch.Tensor, tuple[int, int]]:
    """SAME padding for a window op: (x, symmetric padding the op itself should add). Symmetric padding is
    left to the op (no copy); TensorFlow's asymmetric padding (stride 2) is added here."""
    top, bottom = _same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
    left, right = _same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
    if top == bottom and left == right:
        return x, (top, left)
    return F.pad(x, (left, right, top, bottom), value=value), (0, 0)


def _resize_bilinear(x: torch.Tensor, size: tuple[int, int], align_corners: bool, half_pixel: bool) -> torch.Tensor:
    if not (align_corners or half_pixel):  # TensorFlow's legacy mapping has no torch equivalent
        raise TFLiteError("RESIZE_BILINEAR without align_corners or half_pixel_centers is not supported")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)


def _depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """TensorFlow's DepthToSpace (channel index = (row_in_block * block + col_in_block) * C + c) on NCHW."""
    n, c, h, w = x.shape
    out_c = c // (block * block)
    x = x.view(n, block, block, out_c, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, out_c, h * block, w * block)


class TFLiteModule(nn.Module):
    """A TFLite graph as a torch module: `forward(x)` takes NHWC or NCHW float input (see `channels_last`)
    and returns the requested outputs in TFLite's own layout (NHWC for 4-D tensors).

    graph: what `read_graph` returned. outputs: indices into the graph's outputs to compute (default all);
    operators that only feed the others are skipped.
    """

    def __init__(self, graph: Graph, outputs: Sequence[int] | None = None) -> None:
        super().__init__()
        self.graph = graph
        wanted = [graph.outputs[i] for i in (outputs if outputs is not None else range(len(graph.outputs)))]
        self.output_ids = wanted
        self.input_id = graph.inputs[0]
        self.input_shape = graph.tensors[self.input_id].shape
        constants = self._fold_constants()
        needed = self._needed(wanted, constants)
        self._params = nn.ParameterList()
        self._slot: dict[int, int] = {}  # constant tensor index -> position in self._params
        self._plan: list[tuple[Operator, dict[str, Any]]] = []
        for op in graph.operators:
            if op.outputs[0] in constants or op.outputs[0] not in needed:
                continue
            self._plan.append((op, self._prepare(op, constants)))

    # --- building ----------------------------------------------------------------------------------------
    def _fold_constants(self) -> dict[int, np.ndarray]:
        """Values of constant tensors, with DENSIFY and DEQUANTIZE of constants evaluated now."""
        values: dict[int, np.ndarray] = {}
        for t in self.graph.tensors:
            if t.data is not None and t.sparsity is None:
                values[t.index] = t.data.reshape(t.shape) if t.shape else t.data
        for op in self.graph.operators:
            source = self.graph.tensors[op.inputs[0]] if op.inputs else None
            if op.name == "DENSIFY" and source is not None and source.data is not None:
                if source.sparsity is None:
                    raise TFLiteError(f"DENSIFY of {source.name}, which has no sparsity parameters")
                values[op.outputs[0]] = densify(source.data, self.graph.tensors[op.outputs[0]].shape, source.sparsity)
            elif op.name == "DEQUANTIZE" and op.inputs[0] in values:
                values[op.outputs[0]] = values[op.inputs[0]].astype(np.float32)
        return values

    def _needed(self, wanted: list[int], constants: dict[int, np.ndarray]) -> set[int]:
        producer = {op.outputs[0]: op for op in self.graph.operators}
        needed: set[int] = set()
        stack = list(wanted)
        while stack:
            t = stack.pop()
            if t in needed or t in constants:
                continue
            needed.add(t)
            op = producer.get(t)
            if op is not None:
                stack.extend(i for i in op.inputs if i >= 0)
        return needed

    def _param(self, index: int, value: np.ndarray) -> int:
        if index not in self._slot:
            self._params.append(nn.Parameter(torch.from_numpy(np.ascontiguousarray(value)), requires_grad=False))
            self._slot[index] = len(self._params) - 1
        return self._slot[index]

    def _prepare(self, op: Operator, constants: dict[int, np.ndarray]) -> dict[str, Any]:
        """Turn constant inputs into parameters in torch's layout; check the operator is runnable."""
        o = dict(op.options)
        ins = op.inputs
        shape_of = self.graph.tensors
        if op.name == "CONV_2D":
            weight = constants[ins[1]].transpose(0, 3, 1, 2)  # OHWI -> OIHW
            o["weight"] = self._param(ins[1], weight)
            o["bias"] = self._param(ins[2], constants[ins[2]]) if len(ins) > 2 and ins[2] >= 0 else None
            o["kernel"] = weight.shape[2:]
        elif op.name == "DEPTHWISE_CONV_2D":
            w = constants[ins[1]]  # (1, H, W, C * M)
            weight = w.transpose(3, 0, 1, 2)  # (C * M, 1, H, W)
            o["weight"] = self._param(ins[1], weight)
            o["bias"] = self._param(ins[2], constants[ins[2]]) if len(ins) > 2 and ins[2] >= 0 else None
            o["kernel"] = weight.shape[2:]
            o["groups"] = shape_of[ins[0]].shape[3]
        elif op.name == "ADD":
            for k, i in enumerate(ins[:2]):
                if i in constants:
                    value = constants[i].astype(np.float32)
                    if value.ndim == 4:
                        value = value.transpose(0, 3, 1, 2)
                    elif value.ndim in (1, 3) and len(shape_of[ins[1 - k]].shape) == 4:
                        value = value.reshape(-1, 1, 1) if value.ndim == 1 else value.transpose(2, 0, 1)
                    o[f"const{k}"] = self._param(i, value)
        elif op.name == "PAD":
            pads = constants[ins[1]].reshape(-1, 2)
            if len(pads) != 4:
                raise TFLiteError("PAD is supported on 4-D tensors only")
            (n0, n1), (h0, h1), (w0, w1), (c0, c1) = (tuple(int(v) for v in p) for p in pads)
            if n0 or n1:
                raise TFLiteError("PAD along the batch is not supported")
            o["pads"] = (w0, w1, h0, h1, c0, c1)
        elif op.name == "RESIZE_BILINEAR":
            o["size"] = tuple(int(v) for v in constants[ins[1]])
        elif op.name == "RESHAPE":
            o["shape"] = tuple(shape_of[op.outputs[0]].shape)
        elif op.name == "CONCATENATION":
            if any(i in constants for i in ins):
                raise TFLiteError("CONCATENATION of constants is not supported")
            rank = len(shape_of[op.outputs[0]].shape)
            axis = o["axis"] % rank
            o["dim"] = _NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis
        elif op.name in ("DEQUANTIZE", "DENSIFY"):
            raise TFLiteError(f"{op.name} of a non-constant tensor is not supported")
        return o

    # --- running -----------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, channels_last: bool = True) -> list[torch.Tensor]:
        """x: (N, H, W, C) when `channels_last`, else (N, C, H, W), float. Returns the outputs, batch first,
        in TFLite's layout (NHWC for 4-D ones)."""
        values: dict[int, torch.Tensor] = {self.input_id: x.permute(0, 3, 1, 2) if channels_last else x}
        for op, options in self._plan:
            values[op.outputs[0]] = self._run_op(op, options, [values[i] for i in op.inputs if i in values])
        return [values[i].permute(0, 2, 3, 1) if values[i].dim() == 4 else values[i] for i in self.output_ids]

    def _run_op(self, op: Operator, o: dict[str, Any], inputs: list[torch.Tensor]) -> torch.Tensor:
        """One operator on its non-constant inputs (4-D tensors are NCHW here)."""
        name = op.name
        params = self._params
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            a, padding = inputs[0], (0, 0)
            if o["padding"] == SAME:
                a, padding = _pad_same(a, o["kernel"], o["stride"], o["dilation"])
            bias = params[o["bias"]] if o["bias"] is not None else None
            y = F.conv2d(a, params[o["weight"]], bias, o["stride"], padding, o["dilation"], o.get("groups", 1))
            return _activate(y, o["activation"])
        if name == "ADD":
            lhs = params[o["const0"]] if "const0" in o else inputs[0]
            rhs = params[o["const1"]] if "const1" in o else inputs[-1]
            return _activate(lhs + rhs, o["activation"])
        if name == "MAX_POOL_2D":
            a, padding = inputs[0], (0, 0)
            if o["padding"] == SAME:
                a, padding = _pad_same(a, o["kernel"], o["stride"], (1, 1), value=float("-inf"))
            if padding != (0, 0):  # max_pool2d pads with -inf itself but only up to half the window
                a, padding = F.pad(a, (padding[1], padding[1], padding[0], padding[0]), value=float("-inf")), (0, 0)
            return _activate(F.max_pool2d(a, o["kernel"], o["stride"]), o["activation"])
        if name == "PAD":
            return F.pad(inputs[0], o["pads"])
        if name == "RESIZE_BILINEAR":
            return _resize_bilinear(inputs[0], o["size"], o["align_corners"], o["half_pixel_centers"])
        if name == "DEPTH_TO_SPACE":
            return _depth_to_space(inputs[0], o["block"])
        if name == "CONCATENATION":
            return _activate(torch.cat(inputs, dim=o["dim"]), o["activation"])
        if name == "RESHAPE":
            a = inputs[0]
            source = a.permute(0, 2, 3, 1) if a.dim() == 4 else a  # reshape in TFLite's NHWC order
            y = source.reshape(a.shape[0], *o["shape"][1:])
            return y.permute(0, 3, 1, 2) if y.dim() == 4 else y
        if name == "LOGISTIC":
            return torch.sigmoid(inputs[0])
        raise TFLiteError(f"operator {name} is not supported")  # read_graph refuses these already
