"""Arrow to PostgreSQL's COPY text format, built by Arrow compute kernels a column at a time (no Python
object per value): what `PgConn.load` sends. A type not written here (bytes, times, nested lists) makes
`copy_block` answer None, and the caller sends that table row by row."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

_TEXT = pa.large_string()
# COPY's text format: backslash first, so that the escapes added after it are not escaped again.
_COPY_ESCAPES = (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
# Inside a quoted element of an array literal only the backslash and the double quote are special.
_ELEMENT_ESCAPES = (("\\", "\\\\"), ('"', '\\"'))


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _TEXT)


def _replace(array: pa.Array, escapes) -> pa.Array:
    for old, new in escapes:
        array = pc.replace_substring(array, old, new)
    return array


def _scalar_text(array: pa.Array) -> pa.Array | None:
    """A column's values as the input text PostgreSQL reads for them, NULLs kept; None for a type not written here."""
    kind = array.type
    if isinstance(kind, pa.BaseExtensionType):
        return _scalar_text(array.storage)
    if pa.types.is_dictionary(kind):
        return _scalar_text(array.dictionary_decode())
    if pa.types.is_null(kind):
        return pa.nulls(len(array), _TEXT)
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        # The instant in UTC ("...Z"): Arrow writes other zones with a whole-minute offset only.
        return array.cast(pa.timestamp(kind.unit, tz="UTC")).cast(_TEXT)
    if pa.types.is_floating(kind):
        # The double's shortest text; a float32's own shortest text would not be the value a double column holds.
        return array.cast(pa.float64()).cast(_TEXT)
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_date(kind)
        or pa.types.is_decimal(kind)
    ):
        return array.cast(_TEXT)
    return None


def _array_literal(array: pa.Array) -> pa.Array | None:
    """A list column as PostgreSQL array literals (`{"a","b\\"c",NULL}`); None for elements not written here."""
    offsets = array.offsets
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    elements = _scalar_text(array.values.slice(start, end - start))
    if elements is None:
        return None
    quoted = pc.binary_join_element_wise(_text('"'), _replace(elements, _ELEMENT_ESCAPES), _text('"'), _text(""))
    lists = pa.LargeListArray.from_arrays(
        pc.subtract(offsets.cast(pa.int64()), start), quoted.fill_null(_text("NULL")), mask=array.is_null()
    )
    return pc.binary_join_element_wise(_text("{"), pc.binary_join(lists, _text(",")), _text("}"), _text(""))


def _copy_text(array: pa.Array) -> pa.Array | None:
    """One column as COPY text fields (`\\N` for NULL); None for a type not written here."""
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        text = _array_literal(array)
    else:
        text = _scalar_text(array)
    if text is None:
        return None
    return _replace(text, _COPY_ESCAPES).fill_null(_text("\\N"))


def copy_block(batch: pa.RecordBatch | pa.Table) -> memoryview | None:
    """A batch's rows in COPY's text format, one buffer; None when a column's type is not written here."""
    fields = []
    for column in batch.columns:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        text = _copy_text(column)
        if text is None:
            return None
        fields.append(text)
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, _text("\t")), _text("\n"), _text(""))
    offsets = memoryview(lines.buffers()[1]).cast("q")
    data = lines.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[offsets[lines.offset] : offsets[lines.offset + len(lines)]]
