"""Corpus readers: the registry of known corpora and one reader that turns a corpus folder into a manifest.

>>> from ser_utils.corpora import read_corpus, describe
>>> manifest, skipped = read_corpus("ravdess", "data/RAVDESS")   # doctest: +SKIP
>>> print(describe("ravdess"))                                   # doctest: +SKIP

:mod:`.registry` holds what is known about each corpus (page, licence, layout), :mod:`.names` its
file-name parser, and :mod:`.reader` the reading itself (recursive walk, checks, on-disk cache).
"""

from .names import Utterance
from .reader import AUDIO_EXTENSIONS, MANIFEST_DTYPES, READER_VERSION, SKIPPED_DTYPES, probe_audio, read_corpus
from .registry import CORPORA, CorpusInfo, CorpusNotFoundError, corpus_info, describe

__all__ = [
    "AUDIO_EXTENSIONS",
    "CORPORA",
    "MANIFEST_DTYPES",
    "READER_VERSION",
    "SKIPPED_DTYPES",
    "CorpusInfo",
    "CorpusNotFoundError",
    "Utterance",
    "corpus_info",
    "describe",
    "probe_audio",
    "read_corpus",
]
