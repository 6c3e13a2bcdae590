"""Check a TFLite file's structure before an interpreter touches it."""

from __future__ import annotations


def check_flatbuffer(data: bytes) -> str | None:
    """Why ``data`` is not a whole TFLite flatbuffer, or None.

    tflite-runtime 2.14 does not verify a model file before using it and crashes the process on a
    truncated or damaged one. This walks the tables the interpreter reads (the model, its operator
    codes, subgraphs with their tensors and operators, buffers) and checks that every table, vector
    and string lies inside the file: a truncated file is refused whatever part was cut off.
    """
    size = len(data)

    def uint(pos: int, width: int = 4, signed: bool = False) -> int:
        if not 0 <= pos <= size - width:
            raise IndexError(pos)
        return int.from_bytes(data[pos : pos + width], "little", signed=signed)

    def field(table: int, index: int) -> int | None:
        """Position of a table's field, or None when the field is absent."""
        vtable = table - uint(table, signed=True)
        vsize = uint(vtable, 2)
        if 4 + 2 * index + 2 > vsize:
            return None
        offset = uint(vtable + 4 + 2 * index, 2)
        return table + offset if offset else None

    def vector(table: int, index: int, element: int = 4) -> range:
        """Positions of a vector field's elements (all checked to lie in the file); a range, not a
        list: the weights are vectors of bytes, hundreds of thousands long."""
        at = field(table, index)
        if at is None:
            return range(0)
        start = at + uint(at)
        count = uint(start)
        if start + 4 + count * element > size:
            raise IndexError(start)
        return range(start + 4, start + 4 + element * count, element)

    def tables(table: int, index: int) -> list[int]:
        return [pos + uint(pos) for pos in vector(table, index)]

    if size < 8 or data[4:8] != b"TFL3":
        return "not a TFLite flatbuffer (no TFL3 identifier)"
    try:
        root = uint(0)
        for code in tables(root, 1):  # operator codes
            field(code, 0)
        subgraphs = tables(root, 2)
        if not subgraphs:
            return "the model has no subgraph"
        for graph in subgraphs:
            vector(graph, 1), vector(graph, 2), vector(graph, 4, 1)  # inputs, outputs, name
            for tensor in tables(graph, 0):
                vector(tensor, 0), vector(tensor, 3, 1)  # shape, name
                quantization = field(tensor, 4)
                if quantization is not None:
                    q = quantization + uint(quantization)
                    vector(q, 2), vector(q, 3, 8)  # scales, zero points
            for op in tables(graph, 3):
                vector(op, 1), vector(op, 2)  # inputs, outputs
        for buffer in tables(root, 4):
            vector(buffer, 0, 1)  # the weights
            offset_at, size_at = field(buffer, 1), field(buffer, 2)
            if offset_at is not None and size_at is not None and uint(offset_at, 8) + uint(size_at, 8) > size:
                raise IndexError(offset_at)
        for meta in tables(root, 6):
            vector(meta, 0, 1)
    except IndexError:
        return "an offset points outside the file (truncated or corrupt)"
    return None
