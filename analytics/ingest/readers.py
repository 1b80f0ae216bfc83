"""Read untrusted telemetry files in bounded memory: sniff the content, enforce limits, stream.

The content decides how a file is read, never its name: gzip (magic 1f 8b) is decompressed on
the fly whatever the file is called, Parquet is recognised by its magic "PAR1", and other
compressions (zstd, bzip2, xz, zip) are refused in one line. Every limit is checked before the
memory it guards is allocated:

- MAX_TEXT_BYTES: text of a CSV or JSON-lines file after decompression (counted while reading;
  a gzip bomb stops at the limit); for Parquet, the uncompressed size its metadata declares;
- MAX_ROWS data rows and MAX_COLUMNS columns per file (Parquet: from the metadata, before reading);
- MAX_LINE_BYTES: one CSV row, one JSON line, the CSV header;
- MAX_JSON_BYTES: a whole-document JSON array (LLMPerf), read whole and decoded one element at a
  time; MAX_JSON_DEPTH nesting;
- MAX_ROW_GROUP_BYTES: one Parquet row group's declared uncompressed size (read one at a time);
- MAX_TEXT_CHUNK_BYTES: one text column of one Parquet row group, declared uncompressed (a page of
  text is decoded whole, and copied twice before its values can be checked);
- MAX_TEXT_CELL_BYTES: one text value (names and labels); for Parquet first on the metadata (a text
  column chunk may not declare more than its values could hold at that length), then on the
  dictionary or the values of each batch, before any row is kept;
- MAX_BLANK_BYTES: blank lines in a row (a file of newlines holds no rows: refused early);
- only regular files are read (a FIFO or a device would block or never end);
- times must fall in the plausible range TS_EARLIEST .. now + TS_AHEAD (rules.implausible_time): a year
  1850, 2500 or 9999 is a broken clock or unit, and one such row would stretch every time axis.

Rows are numbered from 1 over the data rows of the whole file (the CSV header and blank lines
are not rows). Errors are InputError naming the file, the row and the column when there is one.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from analytics import times
from analytics.errors import InputError

Chunks = Iterator[tuple[int, pl.DataFrame]]  # (data rows before the chunk, the chunk)
MiB = 1 << 20
MAX_TEXT_BYTES = 4 << 30
MAX_ROWS = 50_000_000
MAX_COLUMNS = 256
MAX_LINE_BYTES = 1 * MiB
MAX_JSON_BYTES = 32 * MiB
MAX_JSON_DEPTH = 32
MAX_ROW_GROUP_BYTES = 512 * MiB
MAX_TEXT_CHUNK_BYTES = 64 * MiB
MAX_TEXT_CELL_BYTES = 1024
MAX_BLANK_BYTES = 16 * MiB
TS_EARLIEST = times.TS_EARLIEST  # the plausible time range, shared with every time a user types
TS_AHEAD = times.TS_AHEAD
CHUNK_ROWS = 250_000  # rows per validated chunk handed to the loader (files.Source.chunks)
# Parquet PLAIN stores a text value as a 4-byte length and its bytes; dictionary pages the same,
# plus at most 5 bytes of index (RLE/bit-packed, 32 bits at most) and level bytes per value
# (Parquet format, Encodings.md); TEXT_VALUE_SLACK covers them, TEXT_CHUNK_SLACK the page headers.
TEXT_VALUE_SLACK = 16
TEXT_CHUNK_SLACK = MiB
PARQUET_BATCH_ROWS = 32_768  # rows decoded at once: 32k x 1 KiB labels bounds a text column at 32 MiB

_MAGIC = {b"\x1f\x8b": "gzip", b"PAR1": "parquet", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bzip2",
          b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}
_ROW_IN_ARROW_ERROR = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+)")


def fail(path: Path, row: int | None, column: str | None, message: str) -> InputError:
    """The one-line error: '<file>: row N, column 'c': message' (row and column when known)."""
    where = ", ".join(p for p in (f"row {row}" if row else "", f"column {column!r}" if column else "") if p)
    return InputError(f"{path}: {where + ': ' if where else ''}{message}")


def _size(n: int) -> str:
    return f"{n / MiB:,.0f} MiB" if n >= MiB else f"{n:,} bytes"


def _require_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before opening it: opening a FIFO blocks until a writer
    comes, and a device such as /dev/zero never ends."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise fail(path, None, None, f"cannot read ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(mode):
        kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
        raise fail(path, None, None, f"is {kind}, not a regular file")


def sniff(path: Path) -> str:
    """'gzip', 'parquet', another compression's name, or 'text', from the first bytes of a regular file."""
    _require_regular_file(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise fail(path, None, None, f"cannot read ({exc.strerror or exc})") from exc
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return "text"


class _CappedText(io.RawIOBase):
    """The bytes of a file, gunzipped when gzip, failing past MAX_TEXT_BYTES (read, never allocated)."""

    def __init__(self, path: Path):
        self.path = path
        self.read_bytes = 0
        self.blank_run = 0  # newline bytes since the last other byte: readers skip blank lines unseen
        kind = sniff(path)
        if kind == "parquet":
            raise fail(path, None, None, "is a Parquet file; this format is read from text (CSV or JSON)")
        if kind not in ("gzip", "text"):
            raise fail(path, None, None, f"is {kind}-compressed; only gzip is read (decompress it first)")
        self.raw = path.open("rb")
        self.inner = gzip.GzipFile(fileobj=self.raw, mode="rb") if kind == "gzip" else self.raw
        if kind == "gzip" and self._peek() == b"PAR1":
            self.close()
            raise fail(path, None, None, "is a gzip-compressed Parquet file; Parquet is read uncompressed")

    def _peek(self) -> bytes:
        try:
            return self.inner.peek(4)[:4]
        except (OSError, EOFError, zlib.error) as exc:
            self.close()
            raise fail(self.path, None, None, f"corrupt gzip data ({exc})") from exc

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            n = self.inner.readinto(buffer)
        except (OSError, EOFError, zlib.error) as exc:
            raise fail(self.path, None, None, f"corrupt gzip data ({exc})") from exc
        self.read_bytes += n
        if self.read_bytes > MAX_TEXT_BYTES:
            raise fail(self.path, None, None, f"more than {_size(MAX_TEXT_BYTES)} of text after decompression "
                                              "(the limit for one file)")
        block = bytes(memoryview(buffer)[:n])
        text_end = len(block.rstrip(b"\r\n"))
        self.blank_run = self.blank_run + n if text_end == 0 else n - text_end
        if self.blank_run > MAX_BLANK_BYTES:
            raise fail(self.path, None, None, f"more than {_size(MAX_BLANK_BYTES)} of blank lines in a row after byte "
                                              f"{self.read_bytes - self.blank_run:,} (the limit; is the file padded?)")
        return n

    def close(self) -> None:
        if not self.closed:
            self.inner.close()
            self.raw.close()
        super().close()


def open_text(path: Path) -> io.BufferedReader:
    """A binary stream of the file's text (gunzipped when gzip), bounded by MAX_TEXT_BYTES."""
    return io.BufferedReader(_CappedText(path), buffer_size=MiB)


def _decode(path: Path, row: int | None, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(path, row, None, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}: "
                                    "save the file as UTF-8)") from None


def _read_line(path: Path, stream, row: int | None) -> bytes:
    line = stream.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        raise fail(path, row, None, f"a line longer than {_size(MAX_LINE_BYTES)} (the limit for one row)")
    return line


def table_chunks(path: Path, columns: list[str] | None, chunk_rows: int) -> tuple[list[str], Chunks]:
    """A CSV (plain or gzip) or Parquet file's column names and chunks, by its content."""
    kind = sniff(path)
    if kind == "parquet":
        return parquet_chunks(path, columns, chunk_rows)
    if path.suffix.lower() == ".parquet":
        raise fail(path, None, None, "not a Parquet file (it does not start with PAR1)")
    return csv_chunks(path, columns, chunk_rows)


# --- CSV ------------------------------------------------------------------------------------


def csv_header(path: Path) -> list[str]:
    """The header row's column names, checked: a first line within MAX_LINE_BYTES, UTF-8,
    at most MAX_COLUMNS names, none empty or repeated."""
    with open_text(path) as stream:
        line = _read_line(path, stream, None)
    text = _decode(path, None, line).removeprefix("\ufeff").strip("\r\n")
    if not text.strip():
        raise fail(path, None, None, "empty file (expected a header row of column names)")
    try:
        names = [name.strip() for name in next(csv.reader([text]))]
    except csv.Error as exc:
        raise fail(path, None, None, f"malformed CSV header ({exc})") from None
    if len(names) > MAX_COLUMNS:
        raise fail(path, None, None, f"{len(names):,} columns in the header (the limit is {MAX_COLUMNS})")
    seen: set[str] = set()
    for name in names:
        if not name:
            raise fail(path, None, None, "an empty column name in the header")
        if name.lower() in seen:
            raise fail(path, None, name, "appears twice in the header")
        seen.add(name.lower())
    return names


def csv_chunks(path: Path, columns: list[str] | None, chunk_rows: int) -> tuple[list[str], Chunks]:
    """The header's names and (rows before this chunk, frame of text columns) for the data rows.

    The header is read and checked at once, the rows as the chunks are iterated.

    `columns`: the header names to keep (None: all). Every row must have as many fields as the
    header; a row repeating the header (files concatenated with their headers) is refused; empty
    cells are null. Memory: one block of MAX_LINE_BYTES being parsed plus one chunk of text.
    """
    header = csv_header(path)
    return header, _csv_rows(path, header, header if columns is None else [c for c in header if c in columns],
                             chunk_rows)


def _csv_rows(path: Path, header: list[str], keep: list[str], chunk_rows: int) -> Chunks:
    stream = open_text(path)
    try:
        try:
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(use_threads=False, block_size=MAX_LINE_BYTES, column_names=header,
                                                skip_rows=1),
                parse_options=pa_csv.ParseOptions(newlines_in_values=False),
                convert_options=pa_csv.ConvertOptions(column_types={c: pa.binary() for c in header},
                                                      null_values=[""], strings_can_be_null=True,
                                                      include_columns=keep))
        except pa.ArrowInvalid as exc:
            raise _csv_error(path, exc, 0) from None

        def frames() -> Iterator[pl.DataFrame]:
            rows = 0
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as exc:
                    raise _csv_error(path, exc, rows) from None
                frame = _text_frame(path, batch, rows)
                _no_repeated_header(path, frame, rows)
                rows += frame.height
                if rows > MAX_ROWS:
                    raise fail(path, MAX_ROWS + 1, None, f"more than {MAX_ROWS:,} rows (the limit for one file)")
                yield frame

        yield from rechunk(frames(), chunk_rows)
    finally:
        stream.close()


def _csv_error(path: Path, exc: pa.ArrowInvalid, rows_before: int) -> InputError:
    message = str(exc)
    match = _ROW_IN_ARROW_ERROR.search(message)
    if match:  # pyarrow counts physical rows from 1 with the header as row 1
        row, expected, got = (int(g) for g in match.groups())
        return fail(path, row - 1, None, f"{got} fields where the header has {expected}")
    if "straddling" in message:
        return fail(path, rows_before + 1, None, f"a row longer than {_size(MAX_LINE_BYTES)} (the limit for one row)")
    return fail(path, rows_before + 1, None, f"malformed CSV ({message.splitlines()[0]})")


def _text_frame(path: Path, batch: pa.RecordBatch, rows_before: int) -> pl.DataFrame:
    """The batch's binary columns as UTF-8 text; the first invalid cell names its row and column."""
    columns = {}
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        try:
            columns[name] = array.cast(pa.string())
        except pa.ArrowInvalid:
            for i, value in enumerate(array.to_pylist()):
                if value is not None:
                    try:
                        value.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise fail(path, rows_before + i + 1, name,
                                   f"not UTF-8 text (byte 0x{value[exc.start]:02x}: save the file as UTF-8)") from None
            raise
    return pl.from_arrow(pa.table(columns)) if columns else pl.DataFrame(height=batch.num_rows)


def _no_repeated_header(path: Path, frame: pl.DataFrame, rows_before: int) -> None:
    if not frame.width:
        return
    same = pl.all_horizontal([pl.col(c).str.strip_chars() == c for c in frame.columns]).fill_null(False)
    hits = frame.select(same.arg_true())
    if hits.height:
        raise fail(path, rows_before + int(hits.item(0, 0)) + 1, None,
                   "repeats the header row (were files concatenated with their headers?)")


def rechunk(frames: Iterator[pl.DataFrame], chunk_rows: int) -> Iterator[tuple[int, pl.DataFrame]]:
    """(rows before, frame of at most chunk_rows rows) from frames of any height, in order."""
    done, pending, pending_rows = 0, [], 0
    for frame in frames:
        pending.append(frame)
        pending_rows += frame.height
        while pending_rows >= chunk_rows:
            joined = pl.concat(pending, how="vertical_relaxed") if len(pending) > 1 else pending[0]
            yield done, joined.slice(0, chunk_rows)
            done += chunk_rows
            pending_rows -= chunk_rows
            pending = [joined.slice(chunk_rows)] if pending_rows else []
    if pending_rows:
        yield done, pl.concat(pending, how="vertical_relaxed") if len(pending) > 1 else pending[0]


# --- Parquet --------------------------------------------------------------------------------


def parquet_chunks(path: Path, columns: list[str] | None, chunk_rows: int) -> tuple[list[str], Chunks]:
    """The file's column names and (rows before this chunk, frame) of its `columns` (those
    present), read batch by batch after checking the metadata's rows, columns and declared sizes."""
    try:
        parquet = pq.ParquetFile(path)
    except OSError as exc:
        raise fail(path, None, None, f"cannot read ({exc.strerror or exc})") from exc
    except (pa.ArrowException, ValueError) as exc:
        raise fail(path, None, None, f"not a readable Parquet file ({str(exc).splitlines()[0]})") from exc
    meta, schema = parquet.metadata, parquet.schema_arrow
    if meta.num_columns > MAX_COLUMNS:
        raise fail(path, None, None, f"{meta.num_columns:,} columns (the limit is {MAX_COLUMNS})")
    seen: set[str] = set()
    for name in schema.names:
        if name.lower() in seen:
            raise fail(path, None, name, "appears twice in the file's columns")
        seen.add(name.lower())
    if meta.num_rows > MAX_ROWS:
        raise fail(path, None, None, f"{meta.num_rows:,} rows (the limit for one file is {MAX_ROWS:,})")
    present = list(schema.names) if columns is None else [c for c in columns if c in schema.names]
    for name in present:
        dtype = schema.field(name).type
        if pa.types.is_nested(dtype) or pa.types.is_dictionary(dtype) and pa.types.is_nested(dtype.value_type):
            raise fail(path, None, name, f"Parquet type {dtype} holds nested values; expected one value per row")
    positions = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    text = [c for c in present if c in positions and _is_text(schema.field(c).type)]
    total = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        size = sum(group.column(positions[c]).total_uncompressed_size for c in present if c in positions)
        for name in text:  # before any page is read: a 500 MB value compresses to a few KB
            chunk = group.column(positions[name])
            if chunk.total_uncompressed_size > chunk.num_values * (MAX_TEXT_CELL_BYTES + TEXT_VALUE_SLACK) + TEXT_CHUNK_SLACK:
                raise fail(path, None, name, f"row group {g + 1} declares {_size(chunk.total_uncompressed_size)} "
                                             f"for {chunk.num_values:,} value{'' if chunk.num_values == 1 else 's'}: a text value longer than "
                                             f"{MAX_TEXT_CELL_BYTES:,} bytes")
            if chunk.total_uncompressed_size > MAX_TEXT_CHUNK_BYTES:
                raise fail(path, None, name, f"row group {g + 1} declares {_size(chunk.total_uncompressed_size)} of "
                                             f"text (the limit is {_size(MAX_TEXT_CHUNK_BYTES)} a column per row "
                                             "group; write smaller row groups)")
        if size > MAX_ROW_GROUP_BYTES:
            raise fail(path, None, None, f"row group {g + 1} declares {_size(size)} uncompressed "
                                         f"(the limit is {_size(MAX_ROW_GROUP_BYTES)}; write smaller row groups)")
        total += size
    if total > MAX_TEXT_BYTES:
        raise fail(path, None, None, f"declares {_size(total)} uncompressed (the limit for one file is "
                                     f"{_size(MAX_TEXT_BYTES)})")
    return schema.names, _parquet_rows(path, schema, present, chunk_rows)


def _is_text(dtype: pa.DataType) -> bool:
    return (pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_binary(dtype)
            or pa.types.is_large_binary(dtype))


def _parquet_rows(path: Path, schema: pa.Schema, present: list[str], chunk_rows: int) -> Chunks:
    text = [c for c in present if _is_text(schema.field(c).type)]
    try:
        parquet = pq.ParquetFile(path, read_dictionary=text)
        batches = parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=present, use_threads=False)
        yield from rechunk(_parquet_frames(path, batches), chunk_rows)
    except (pa.ArrowException, OSError) as exc:
        raise fail(path, None, None, f"not a readable Parquet file ({str(exc).splitlines()[0]})") from exc


def _parquet_frames(path: Path, batches: Iterator[pa.RecordBatch]) -> Iterator[pl.DataFrame]:
    rows = 0
    for batch in batches:
        yield _parquet_frame(path, batch, rows)
        rows += batch.num_rows


def _parquet_frame(path: Path, batch: pa.RecordBatch, rows_before: int) -> pl.DataFrame:
    """The batch as a frame; text is checked against MAX_TEXT_CELL_BYTES before a dictionary is
    expanded and before the batch is kept."""
    columns = {}
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_dictionary(array.type):
            too_long = np.flatnonzero(_text_lengths(array.dictionary) > MAX_TEXT_CELL_BYTES)
            if len(too_long):
                rows = np.flatnonzero(np.isin(array.indices.to_numpy(zero_copy_only=False), too_long))
                raise _long_text(path, rows_before + int(rows[0]) + 1 if len(rows) else None, name)
            array = array.cast(array.type.value_type)
        if _is_text(array.type):
            too_long = np.flatnonzero(_text_lengths(array) > MAX_TEXT_CELL_BYTES)
            if len(too_long):
                raise _long_text(path, rows_before + int(too_long[0]) + 1, name)
            array = _utf8(path, name, array, rows_before)
        columns[name] = array
    return pl.from_arrow(pa.table(columns))


def _text_lengths(array: pa.Array) -> np.ndarray:
    """Byte length of each text value (0 for null)."""
    return pc.binary_length(array).fill_null(0).to_numpy(zero_copy_only=False)


def _long_text(path: Path, row: int | None, name: str) -> InputError:
    return fail(path, row, name, f"a text value longer than {MAX_TEXT_CELL_BYTES:,} bytes")


def _utf8(path: Path, name: str, array: pa.Array, rows_before: int) -> pa.Array:
    """Text checked as UTF-8 (Parquet writers do not guarantee it); the first bad value names its row."""
    try:
        if pa.types.is_binary(array.type):
            return array.cast(pa.string())  # the cast validates
        array.validate(full=True)
        return array
    except pa.ArrowInvalid:
        for i, value in enumerate(array.cast(pa.large_binary()).to_pylist()):
            try:
                value is None or value.decode("utf-8")
            except UnicodeDecodeError:
                raise fail(path, rows_before + i + 1, name, "not UTF-8 text") from None
        raise


# --- JSON -----------------------------------------------------------------------------------


def json_depth(data: bytes) -> int:
    """Deepest nesting of arrays and objects in a JSON text, brackets inside strings ignored (a
    text with at most MAX_JSON_DEPTH brackets returns their count, an upper bound, unscanned).

    Vectorised over blocks of 1 MiB (bounded memory): a quote opens or closes a string unless an
    odd run of backslashes precedes it; brackets count where they are outside strings.
    """
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return data.count(b"[") + data.count(b"{")
    depth = deepest = carry = 0  # carry: backslashes ending the previous block
    inside = 0  # 1 inside a string at the end of the previous block
    for start in range(0, len(data), MiB):
        codes = np.frombuffer(data, dtype=np.uint8, count=min(MiB, len(data) - start), offset=start)
        index = np.arange(len(codes), dtype=np.int32)
        last_other = np.maximum.accumulate(np.where(codes != ord("\\"), index, -1))  # last non-backslash <= i
        before = np.full(len(codes), carry, dtype=np.int32)  # backslashes right before each byte
        before[1:] = index[:-1] - last_other[:-1] + np.where(last_other[:-1] < 0, carry, 0)
        quotes = (codes == ord('"')) & (before % 2 == 0)
        outside = (np.cumsum(quotes, dtype=np.int32) + inside) % 2 == 0
        steps = (np.isin(codes, (ord("["), ord("{"))) & outside).astype(np.int32)
        steps -= np.isin(codes, (ord("]"), ord("}"))) & outside
        levels = depth + np.cumsum(steps, dtype=np.int32)
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
        inside = int(not outside[-1])
        trailing = len(codes) - 1 - int(last_other[-1])
        carry = trailing + carry if last_other[-1] < 0 else trailing
    return deepest


def _parse_json(path: Path, row: int | None, data: bytes):
    if json_depth(data) > MAX_JSON_DEPTH:
        raise fail(path, row, None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(path, row, _column_holding(data.decode("utf-8", "replace"), "\ufffd"),
                   f"not UTF-8 text (byte 0x{data[exc.start]:02x}: save the file as UTF-8)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = "" if row else f" at line {exc.lineno}"
        raise fail(path, row, None, f"not valid JSON ({exc.msg}{where})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise fail(path, row, None, f"not valid JSON ({str(exc).split(':')[0]})") from None


def _column_holding(text: str, needle: str) -> str | None:
    """The key of the first top-level field whose key or text value contains needle, if any."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(record, dict):
        return next((k for k, v in record.items() if needle in k or isinstance(v, str) and needle in v), None)
    return None


def json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """(row, value) for each non-blank line of a JSON-lines file, read one line at a time."""
    row = 0
    with open_text(path) as stream:
        while line := _read_line(path, stream, row + 1):
            if not line.strip():
                continue
            row += 1
            if row > MAX_ROWS:
                raise fail(path, row, None, f"more than {MAX_ROWS:,} rows (the limit for one file)")
            yield row, _parse_json(path, row, line)


def _json_bytes(path: Path) -> bytes:
    with open_text(path) as stream:
        data = stream.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise fail(path, None, None, f"a JSON document larger than {_size(MAX_JSON_BYTES)} "
                                     "(the limit for one JSON array; use JSON lines for more)")
    return data


def json_document(path: Path):
    """A whole JSON document of at most MAX_JSON_BYTES (after decompression)."""
    return _parse_json(path, None, _json_bytes(path))


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def json_array(path: Path) -> Iterator[tuple[int, object]]:
    """(row, value) for each element of a JSON array document of at most MAX_JSON_BYTES, decoded
    one element at a time: the caller keeps what it needs of each, so the document's objects are
    never all alive at once (32 MiB of `{}` would be 11 million dicts, over a GB)."""
    data = _json_bytes(path)
    if json_depth(data) > MAX_JSON_DEPTH:
        raise fail(path, None, None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    text = _decode(path, None, data)
    del data
    decoder = json.JSONDecoder()
    at = _JSON_SPACE.match(text, 0).end()
    if not text.startswith("[", at):
        raise fail(path, None, None, "expected a JSON array of objects")
    at = _JSON_SPACE.match(text, at + 1).end()
    row = 0
    while not text.startswith("]", at):
        row += 1
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise fail(path, row, None, f"not valid JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
            raise fail(path, row, None, f"not valid JSON ({str(exc).split(':')[0]})") from None
        yield row, value
        at = _JSON_SPACE.match(text, at).end()
        if text.startswith(",", at):
            at = _JSON_SPACE.match(text, at + 1).end()
        elif not text.startswith("]", at):
            raise fail(path, row, None, "not valid JSON (expected ',' or ']' after the value)")
    if _JSON_SPACE.match(text, at + 1).end() != len(text):
        raise fail(path, None, None, "not valid JSON (extra data after the array)")
