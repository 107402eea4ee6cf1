"""One keyword segment: the term frequencies of a run of chunks, stored as postings.

A segment covers chunks with ascending ids. For each term it holds (term id, then the chunks
that contain it with how often), and for each chunk its length in tokens: everything BM25
needs except the corpus-wide statistics (document frequencies, the number of chunks and
their average length), which `index.keywords.KeywordIndex` combines across all segments at
query time. That is what lets a write add a segment instead of rebuilding the index.

Term ids are global: the vocabulary is the concatenation, in segment order, of each
segment's `new_terms` (the terms it was the first to use), so ids never change and merged
segments need no remapping. Stored as one `.npz` of plain arrays (no pickle), which is read
memory-mapped: a writer or reader holds in memory only the pages a search or a merge reads,
not all the postings (0.7 GB at a million chunks). Segment files are never changed once
written (a new one gets a new name), so a mapping stays valid while the file is in use.

Example:
    >>> segment = Segment.build(np.array([7, 9]), [[0, 1, 1], [2]], new_terms=["nato", "ukrain", "appl"])
    >>> segment.postings(1)
    (array([0], dtype=int32), array([2], dtype=uint16))
"""

from __future__ import annotations

import mmap
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def fsynced_save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `path` as `.npz`, fsynced under a temporary name, then renamed: a
    kill leaves either no file or the whole file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# A ZIP local file header: 30 fixed bytes, the name and extra-field lengths at bytes 26-29.
_LOCAL_HEADER = 30
_NAME_AND_EXTRA = struct.Struct("<HH")


def mapped_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed `.npz` (what `np.savez` writes), read-only views of one
    memory map of the file where they lie in it, instead of read (`np.load` cannot map an
    `.npz` member; one map, so one file descriptor, per file). A file that is not such an
    archive raises ValueError, as `np.load` does."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not an .npz file: {exc}") from exc
    arrays = {}
    with open(path, "rb") as fh:
        whole = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        for member in members:
            if member.compress_type != zipfile.ZIP_STORED or not member.filename.endswith(".npy"):
                raise ValueError(f"{path}: {member.filename} is not a stored .npy")
            fh.seek(member.header_offset)
            header = fh.read(_LOCAL_HEADER)
            name_length, extra_length = _NAME_AND_EXTRA.unpack(header[26:_LOCAL_HEADER])
            fh.seek(member.header_offset + _LOCAL_HEADER + name_length + extra_length)
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
            if dtype.hasobject:
                raise ValueError(f"{path}: {member.filename} holds Python objects")
            count = int(np.prod(shape))
            flat = np.frombuffer(whole, dtype=dtype, count=count, offset=fh.tell())
            arrays[member.filename[:-len(".npy")]] = flat.reshape(shape,
                                                                  order="F" if fortran else "C")
    return arrays


def _encode_terms(terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Terms as UTF-8 bytes and offsets: compact whatever the longest term (a fixed-width
    string array would be as wide as it for every term)."""
    encoded = [t.encode("utf-8") for t in terms]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _decode_terms(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = data.tobytes()
    return [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


@dataclass
class Segment:
    """Postings of a run of chunks (see the module docstring)."""

    chunk_ids: np.ndarray  # int64, ascending
    lengths: np.ndarray  # int32 per chunk: tokens, repeats counted (BM25's document length)
    terms: np.ndarray  # int32, ascending: the global ids of the terms that occur here
    starts: np.ndarray  # int64, len(terms) + 1: term i's postings are docs[starts[i]:starts[i+1]]
    docs: np.ndarray  # int32: chunk positions in this segment, ascending within a term
    counts: np.ndarray  # unsigned: how often the term occurs in that chunk
    new_terms: list[str]  # the terms this segment added to the vocabulary, in id order

    @classmethod
    def build(cls, chunk_ids: np.ndarray, token_ids: list[list[int]],
              new_terms: list[str]) -> Segment:
        """A segment from each chunk's term ids, in text order (repeats count)."""
        lengths = np.asarray([len(t) for t in token_ids], dtype=np.int32)
        flat = np.concatenate([np.asarray(doc, dtype=np.int64) for doc in token_ids]) \
            if token_ids else np.zeros(0, np.int64)
        doc_of = np.repeat(np.arange(len(token_ids), dtype=np.int64), lengths)
        pairs, counts = np.unique(flat * max(len(token_ids), 1) + doc_of, return_counts=True)
        return cls._from_sorted(np.asarray(chunk_ids, dtype=np.int64), lengths,
                                pairs // max(len(token_ids), 1), pairs % max(len(token_ids), 1),
                                counts, new_terms)

    @classmethod
    def _from_sorted(cls, chunk_ids, lengths, term_of, doc_of, counts, new_terms) -> Segment:
        """A segment from postings sorted by term, then chunk position."""
        terms, first = np.unique(term_of, return_index=True)
        starts = np.append(first, len(term_of)).astype(np.int64)
        top = int(counts.max(initial=0))
        return cls(chunk_ids, lengths, terms.astype(np.int32), starts,
                   doc_of.astype(np.int32), counts.astype(np.min_scalar_type(top)), new_terms)

    @classmethod
    def merge(cls, segments: list[Segment], keep: list[np.ndarray]) -> Segment:
        """One segment holding the chunks of `segments` (consecutive, in order) where `keep`
        (one boolean mask per segment) is True: deleted chunks are dropped for good. The
        merged segment keeps every segment's new terms, so later term ids stay valid."""
        term_parts, doc_parts, count_parts = [], [], []
        offset = 0
        for segment, mask in zip(segments, keep):
            position = np.cumsum(mask) - 1 + offset  # new position of each kept chunk
            docs = segment.docs
            kept = mask[docs]
            term_parts.append(np.repeat(segment.terms, np.diff(segment.starts))[kept])
            doc_parts.append(position[docs[kept]])
            count_parts.append(segment.counts[kept])
            offset += int(mask.sum())
        term_of = np.concatenate(term_parts) if term_parts else np.zeros(0, np.int32)
        order = np.argsort(term_of, kind="stable")  # chunk order within a term is kept
        return cls._from_sorted(
            np.concatenate([s.chunk_ids[m] for s, m in zip(segments, keep)]),
            np.concatenate([s.lengths[m] for s, m in zip(segments, keep)]),
            term_of[order], np.concatenate(doc_parts)[order],
            np.concatenate(count_parts)[order] if count_parts else np.zeros(0, np.uint8),
            [t for s in segments for t in s.new_terms])

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk positions, counts) of the chunks containing global term id `term`."""
        i = int(np.searchsorted(self.terms, term))
        if i == len(self.terms) or self.terms[i] != term:
            return self.docs[:0], self.counts[:0]
        return (self.docs[self.starts[i]:self.starts[i + 1]],
                self.counts[self.starts[i]:self.starts[i + 1]])

    def save(self, path: Path) -> None:
        data, offsets = _encode_terms(self.new_terms)
        fsynced_save(path, {"chunk_ids": self.chunk_ids, "lengths": self.lengths,
                             "terms": self.terms, "starts": self.starts, "docs": self.docs,
                             "counts": self.counts, "new_terms": data,
                             "new_term_offsets": offsets})

    @classmethod
    def load(cls, path: Path) -> Segment:
        """The segment stored at `path`, its arrays memory-mapped (see the module docstring)."""
        arrays = mapped_npz(path)
        return cls(arrays["chunk_ids"], arrays["lengths"], arrays["terms"], arrays["starts"],
                   arrays["docs"], arrays["counts"],
                   _decode_terms(arrays["new_terms"], arrays["new_term_offsets"]))
