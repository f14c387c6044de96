"""The Zarr training stores of the shear flow: written once, checked on every read.

A store holds the four fields (trajectory, time, x, y) of one split, chunked for training (one
trajectory x a window of time steps x whole planes), its coordinates, and its normalisation
statistics in the attrs and in ``<split>.stats.yaml`` beside it. Every chunk of every array
carries a CRC-32C checksum (Zarr 3's ``crc32c`` codec, after compression), and every chunk is
written, so a flipped bit or a lost chunk file is an error on the next read
(``CorruptStoreError``, naming the store, the variable and the chunk) instead of silently
different numbers. Stores written before the checksums (no ``crc32c`` in their codecs) are
still read, with a warning that they are unprotected; ``snakemake --forcerun
regrid_shear_flow`` re-makes them.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
import yaml
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec

from workflow_scripts.data.errors import CorruptStoreError, RegridError, StoreError
from workflow_scripts.data.normalisation import lazy_block_moments, stats_from_moments
from workflow_scripts.data.well_format import (
    STATS_KEYS,
    describe_read_error,
    write_stats_yaml,
)
from workflow_scripts.physics.fields import FIELD_NAMES

log = logging.getLogger(__name__)

DEFAULT_STORE_TIME_CHUNK = 10
# Blosc LZ4 with byte shuffle: compresses smooth float32 fields as well as zstd (about 2.5x
# here) at several times its speed, for writing and for every training epoch's reads.
STORE_COMPRESSOR = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
# The checksum comes last, over the compressed bytes: it covers exactly what is on disk.
STORE_CODECS = (STORE_COMPRESSOR, Crc32cCodec())


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def stats_path_for(store_path: Path | str) -> Path:
    """Default stats file of a store: ``train.zarr`` -> ``train.stats.yaml`` beside it."""
    store_path = Path(store_path)
    return store_path.with_name(f"{store_path.stem}.stats.yaml")


def store_for_stats(stats_path: Path | str) -> Path:
    """Inverse of ``stats_path_for``: ``train.stats.yaml`` -> ``train.zarr`` beside it."""
    stats_path = Path(stats_path)
    return stats_path.with_name(stats_path.name.removesuffix(".stats.yaml") + ".zarr")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_training_store(
    ds: xr.Dataset,
    store_path: Path | str,
    *,
    time_chunk: int,
    overwrite: bool = False,
    stats_path: Path | str | None = None,
) -> Path:
    """Write the four fields of ``ds`` and its coordinates to a Zarr v3 store chunked for
    training, with normalisation statistics.

    Chunks are one trajectory x ``time_chunk`` steps x the whole plane (Blosc LZ4 with byte
    shuffle, then a CRC-32C checksum, flat chunk keys); every chunk is written, even one that
    equals the fill value, so a missing chunk file means a damaged store. A dask task writes
    one Zarr chunk or, when ``ds`` is chunked in multiples of ``time_chunk`` along time,
    several. The stats (see ``normalisation.normalisation_stats``) are computed from the
    chunks as they are stored, in the same pass, and go into the store's attrs under
    ``"stats"`` and into ``stats_path`` (default ``stats_path_for(store_path)``). Everything
    is written to hidden temporary siblings first; the store is renamed into place last, so a
    store that exists is complete and its stats file exists too. Returns the store path.
    """
    store_path = Path(store_path)
    stats_path = Path(stats_path) if stats_path is not None else stats_path_for(store_path)
    if time_chunk < 1:
        raise RegridError(f"time_chunk must be a positive integer, not {time_chunk}")
    if store_path.exists() and not overwrite:
        raise FileExistsError(f"{store_path}: store already exists (pass overwrite=True)")
    missing = [name for name in FIELD_NAMES if name not in ds.data_vars]
    if missing:
        raise RegridError(f"dataset lacks the fields {missing}; cannot write a training store")
    store_path.parent.mkdir(parents=True, exist_ok=True)
    stats_path.parent.mkdir(parents=True, exist_ok=True)

    # Dask chunks (one task, one write call) may span several Zarr chunks as long as their
    # boundaries fall on Zarr chunk boundaries; otherwise write chunk by chunk.
    dask_time = ds.chunksizes.get("time") if ds.chunks else None
    if not dask_time or any(size % time_chunk for size in dask_time[:-1]):
        dask_time = time_chunk
    # The four fields only: other data variables would be laid out but never written.
    chunked = ds[list(FIELD_NAMES)].chunk({"trajectory": 1, "time": dask_time, "x": -1, "y": -1})
    # Small per-trajectory coordinates (reynolds, schmidt, ...) as one chunk each, not
    # one file per trajectory.
    small = {n: c.variable.load() for n, c in chunked.coords.items() if n not in chunked.dims}
    chunked = chunked.assign_coords(small)
    for var in chunked.variables.values():
        var.encoding = {}  # stale encodings (chunks, codecs) from a source store would clash
    tmp = store_path.with_name(f".{store_path.name}.tmp-{uuid.uuid4().hex[:8]}")
    old = store_path.with_name(f".{store_path.name}.old-{uuid.uuid4().hex[:8]}")
    try:
        start = time.perf_counter()
        # xarray lays out the store (metadata, coordinates); the field chunks are then
        # written by dask.array.store, which hands each stored chunk on to the statistics:
        # one graph, so the source is read once. (Computing to_zarr's Delayed together with
        # separate reductions re-read part of the source.) The fields are float32 without
        # CF encoding, so what xarray would write is exactly the raw data.
        # Chunk keys "c.0.3.0.0" (one flat directory per variable) rather than the default
        # nested "c/0/3/0/0": creating and deleting thousands of directories costs more
        # than writing the small coarse chunks themselves.
        encoding = {
            "chunks": (1, time_chunk, chunked.sizes["x"], chunked.sizes["y"]),
            "chunk_key_encoding": {"name": "default", "separator": "."},
            "compressors": STORE_CODECS,
        }
        coordinate_encoding = {"compressors": STORE_CODECS}
        chunked.to_zarr(
            tmp,
            mode="w-",
            zarr_format=3,
            consolidated=False,
            compute=False,
            write_empty_chunks=True,
            encoding={
                **{name: dict(coordinate_encoding) for name in chunked.coords},
                **{name: dict(encoding) for name in FIELD_NAMES},
            },
        )
        group = zarr.open_group(tmp, mode="r+")
        # Chunks equal to the fill value are written too: read_training_store then counts a
        # missing chunk file as damage, not as a chunk of NaN.
        targets = [group[name].with_config({"write_empty_chunks": True}) for name in FIELD_NAMES]
        stored = da.store(
            [chunked[name].data for name in FIELD_NAMES],
            targets,
            lock=False,  # writes aligned on Zarr chunks never touch the same chunk
            compute=False,
            return_stored=True,
        )
        lazy = {
            name: lazy_block_moments(data) for name, data in zip(FIELD_NAMES, stored, strict=True)
        }
        (computed,) = dask.compute(lazy)
        stats = stats_from_moments(computed)
        log.info("wrote %s and its stats in %.1f s", tmp, time.perf_counter() - start)
        group.attrs.update({"stats": stats})
        with warnings.catch_warnings():
            # zarr warns that consolidated metadata is an extension to the v3 spec; xarray
            # reads it, and without it every plain xr.open_zarr(path) warns instead.
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
            zarr.consolidate_metadata(tmp)
        write_stats_yaml(stats, stats_path)  # atomic, fsync'd
        if store_path.exists():  # overwrite: a directory cannot be renamed onto a full one
            store_path.rename(old)
        tmp.rename(store_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    log.info("store %s complete, stats in %s", store_path, stats_path)
    return store_path


# --------------------------------------------------------------------------------------------
# Checked reading
# --------------------------------------------------------------------------------------------


def _open_group(store_path: Path) -> zarr.Group:
    if not store_path.exists():
        raise StoreError(store_path, "training store does not exist")
    if not store_path.is_dir():
        raise StoreError(store_path, "training store is not a directory")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
            return zarr.open_group(store_path, mode="r")
    except Exception as error:  # any failure to parse the metadata: JSON, schema, codecs
        raise StoreError(store_path, f"unreadable store metadata: {error}") from error


def _has_checksum(array: zarr.Array) -> bool:
    return any(isinstance(codec, Crc32cCodec) for codec in getattr(array.metadata, "codecs", ()))


def _chunk_key(array: zarr.Array, coords: tuple[int, ...]) -> str:
    """The chunk's key (its file name under the array's directory), e.g. ``c.0.3.0.0``."""
    encoding = getattr(array.metadata, "chunk_key_encoding", None)
    if encoding is not None:
        return encoding.encode_chunk_key(coords)
    separator = getattr(array.metadata, "dimension_separator", ".")  # Zarr 2
    return separator.join(map(str, coords)) if coords else "0"


def _chunks(array: zarr.Array) -> Iterator[tuple[tuple[int, ...], str]]:
    for coords in np.ndindex(*array.cdata_shape):
        yield coords, _chunk_key(array, coords)


def _check_chunk_files(store_path: Path, arrays: dict[str, zarr.Array]) -> None:
    """Every chunk file of a checksummed store exists (its writer writes every chunk)."""
    for name, array in arrays.items():
        directory = store_path / array.path
        present = {
            str(Path(root, file).relative_to(directory).as_posix())
            for root, _dirs, files in os.walk(directory)
            for file in files
        }
        for _coords, key in _chunks(array):
            if key not in present:
                raise CorruptStoreError(store_path, name, key, "its chunk file is missing")


def _find_corrupt_chunk(store_path: Path, arrays: dict[str, zarr.Array]) -> None:
    """Read chunk by chunk and raise CorruptStoreError for the first that fails to decode."""
    for name, array in arrays.items():
        for coords, key in _chunks(array):
            try:
                array.get_block_selection(coords)
            except Exception as error:  # checksum mismatch, a bad compressed stream, I/O
                raise CorruptStoreError(store_path, name, key, str(error)) from error


def read_training_store(store_path: Path | str) -> xr.Dataset:
    """The whole store, loaded into memory, with every chunk checked against its checksum.

    Raises ``StoreError`` naming the store (and the rule that makes it) when it is missing or
    its metadata cannot be read, and ``CorruptStoreError`` naming the variable and chunk when
    a chunk's checksum does not match or its file is gone. A store without checksums (written
    before they were added) is read with a warning.
    """
    store_path = Path(store_path)
    arrays = dict(_open_group(store_path).arrays())
    unchecked = sorted(name for name, array in arrays.items() if not _has_checksum(array))
    if unchecked:
        log.warning(
            "%s: no per-chunk checksums in %s (written before they were added?): a changed "
            "chunk cannot be detected; re-make it with `snakemake --forcerun regrid_shear_flow`",
            store_path,
            "any array" if len(unchecked) == len(arrays) else ", ".join(unchecked),
        )
    else:
        _check_chunk_files(store_path, arrays)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
            dataset = xr.open_zarr(store_path, chunks=None)
        return dataset.load()
    except Exception as error:  # zarr raises a bare ValueError on a checksum mismatch
        _find_corrupt_chunk(store_path, arrays)  # names the chunk, if one is at fault
        raise StoreError(store_path, f"unreadable training store: {error}") from error


def read_store_stats(stats_path: Path | str) -> dict[str, dict[str, float]]:
    """The normalisation statistics in a store's stats.yaml, checked.

    Every key of ``STATS_KEYS`` with a number for every field of ``FIELD_NAMES``, and, when
    the store beside it (``store_for_stats``) records its statistics, equal to those: a
    stats file changed after it was written is refused. Raises ``StoreError`` naming the file
    and the rule that makes it.
    """
    stats_path = Path(stats_path)
    try:
        content = yaml.safe_load(stats_path.read_text())
    except FileNotFoundError as error:
        raise StoreError(stats_path, "stats file does not exist") from error
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        problem = describe_read_error(error)
        raise StoreError(stats_path, f"not a readable stats.yaml: {problem}") from error
    if not isinstance(content, dict):
        raise StoreError(stats_path, "stats.yaml is not a mapping")
    for key in STATS_KEYS:
        section = content.get(key)
        if not isinstance(section, dict):
            raise StoreError(stats_path, f"stats.yaml lacks the {key!r} section")
        for field in FIELD_NAMES:
            value = section.get(field)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise StoreError(stats_path, f"stats.yaml {key}.{field} is {value!r}, not a number")
    store_path = store_for_stats(stats_path)
    if store_path.is_dir():
        recorded = dict(_open_group(store_path).attrs).get("stats")
        if recorded is not None:
            _check_same_stats(stats_path, content, recorded, store_path)
    return content


def _check_same_stats(
    stats_path: Path, content: dict[str, Any], recorded: dict[str, Any], store_path: Path
) -> None:
    for key in STATS_KEYS:
        for field in FIELD_NAMES:
            value, expected = content[key][field], recorded.get(key, {}).get(field)
            same = expected is not None and (
                value == expected or (math.isnan(value) and math.isnan(expected))
            )
            if not same:
                raise StoreError(
                    stats_path,
                    f"{key}.{field} is {value!r} but {store_path} recorded {expected!r} when "
                    "both were written: one of them changed since",
                )
