"""The corpora the project knows: where each is published, its licence, layout and file-name parser."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from .. import paths
from . import names

Parser = Callable[[PurePosixPath], names.Utterance | None]
#: (corpus folder, relative paths of its visible files) → {raw speaker id: gender}
GenderTable = Callable[[Path, Sequence[str]], dict[str, str]]


class CorpusNotFoundError(FileNotFoundError):
    """A corpus folder is missing or holds no usable audio; the message says how to get the corpus."""


@dataclass(frozen=True)
class CorpusInfo:
    """Everything the project knows about one corpus, from where to get it to how to read its file names."""

    key: str
    folder: str  # sub-folder of the data root
    title: str
    language: str  # ISO 639-1
    url: str  # the official page
    licence: str
    how: str  # what to download and unpack
    layout: str  # an example file, relative to the corpus folder
    pattern: str  # the file-name pattern, as quoted in skip reasons
    native_format: str
    parser: Parser = field(repr=False)
    speaker_genders: GenderTable | None = field(default=None, repr=False)
    #: non-audio extensions whose files are listed in ``skipped`` (with this reason) instead of ignored
    listed_extensions: Mapping[str, str] = field(default_factory=dict)


def cremad_genders(root: Path, files: Sequence[str]) -> dict[str, str]:
    """Actor → gender from CREMA-D's ``VideoDemographics.csv`` (columns ActorID, Sex), wherever it lies."""
    found = [rel for rel in files if PurePosixPath(rel).name.lower() == "videodemographics.csv"]
    if not found:
        return {}
    try:
        table = pd.read_csv(root / min(found), usecols=["ActorID", "Sex"], dtype=str)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        warnings.warn(f"CREMA-D genders unknown: cannot read {root / min(found)} ({err})", stacklevel=2)
        return {}
    sex = table["Sex"].str.strip().str.lower()
    table["gender"] = sex.where(sex.isin(["female", "male"]), "unknown")
    return dict(zip(table["ActorID"].str.strip(), table["gender"]))


_RESEARCH_ONLY = "free for research use; no open licence stated (read the terms on the page)"

CORPORA: dict[str, CorpusInfo] = {
    info.key: info
    for info in (
        CorpusInfo(
            key="emovo",
            folder="EMOVO",
            title="EMOVO Italian emotional speech corpus",
            language="it",
            url="http://voice.fub.it/activities/corpora/emovo/index.html",
            licence=_RESEARCH_ONLY,
            how="download the corpus archive from the page and unpack it (folders f1 f2 f3 m1 m2 m3)",
            layout="f1/dis-f1-b1.wav",
            pattern="emo-sp-sentence.wav (e.g. dis-f1-b1.wav)",
            native_format="WAV 48 kHz 16-bit, stereo (a few files mono)",
            parser=names.parse_emovo,
        ),
        CorpusInfo(
            key="ravdess",
            folder="RAVDESS",
            title="RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song)",
            language="en",
            url="https://zenodo.org/records/1188976",
            licence="CC BY-NC-SA 4.0 (commercial licences sold separately)",
            how="download Audio_Speech_Actors_01-24.zip from the Zenodo record and unzip it",
            layout="Actor_01/03-01-05-02-01-01-01.wav",
            pattern="03-01-EE-II-SS-RR-AA.wav",
            native_format="WAV 48 kHz 16-bit mono",
            parser=names.parse_ravdess,
            listed_extensions={".mp4": "video file: only the audio-only speech files (03-01-*.wav) are used"},
        ),
        CorpusInfo(
            key="cremad",
            folder="CREMA-D",
            title="CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset)",
            language="en",
            url="https://github.com/CheyneyComputerScience/CREMA-D",
            licence="Open Database License (ODbL) v1.0",
            how="get the AudioWAV/ folder (stored with Git LFS: clone with git-lfs) and VideoDemographics.csv "
            "(for the actors' gender)",
            layout="AudioWAV/1001_DFA_ANG_XX.wav",
            pattern="AAAA_SSS_EEE_LL.wav (e.g. 1001_DFA_ANG_XX.wav)",
            native_format="WAV 16 kHz 16-bit mono (the AudioMP3/ copies are ignored)",
            parser=names.parse_cremad,
            speaker_genders=cremad_genders,
        ),
        CorpusInfo(
            key="savee",
            folder="SAVEE",
            title="SAVEE (Surrey Audio-Visual Expressed Emotion)",
            language="en",
            url="http://kahlan.eps.surrey.ac.uk/savee/",
            licence="free for research use after registering on the page (no open licence stated)",
            how="register on the page, download AudioData.zip and unzip it (a Kaggle copy with ALL/DC_a01.wav "
            "names works too)",
            layout="AudioData/DC/a01.wav",
            pattern="[SP_]EEnn.wav (e.g. DC_a01.wav, or a01.wav in a DC/ folder)",
            native_format="WAV 44.1 kHz 16-bit mono",
            parser=names.parse_savee,
        ),
        CorpusInfo(
            key="tess",
            folder="TESS",
            title="TESS (Toronto Emotional Speech Set)",
            language="en",
            url="https://tspace.library.utoronto.ca/handle/1807/24487",
            licence="CC BY-NC-ND 4.0",
            how="download the 14 speaker/emotion folders (2800 WAV files) and unpack them",
            layout="OAF_angry/OAF_back_angry.wav",
            pattern="SPK_word_emotion.wav (e.g. OAF_back_angry.wav)",
            native_format="WAV 24.414 kHz 16-bit mono",
            parser=names.parse_tess,
        ),
        CorpusInfo(
            key="emodb",
            folder="EMO-DB",
            title="EMO-DB (Berlin Database of Emotional Speech)",
            language="de",
            url="http://emodb.bilderbar.info/",
            licence=_RESEARCH_ONLY,
            how="download download.zip from the page and unzip it (the audio is in wav/)",
            layout="wav/03a01Fa.wav",
            pattern="SStttEv.wav (e.g. 03a01Fa.wav)",
            native_format="WAV 16 kHz 16-bit mono",
            parser=names.parse_emodb,
        ),
    )
}


def corpus_info(key: str) -> CorpusInfo:
    """The registry entry for ``key``, or ValueError listing the known corpora."""
    if key not in CORPORA:
        raise ValueError(f"unknown corpus {key!r}; known corpora: {', '.join(CORPORA)}")
    return CORPORA[key]


def not_found_message(info: CorpusInfo, root: Path, problem: str) -> str:
    """The one message for a missing corpus: where we looked, what we expected, where to get it, how to point at it."""
    return (
        f"{info.title} [{info.key}]: {problem}.\n"
        f"  looked in:  {root}\n"
        f"  expected:   {root / info.layout}  (wrapper folders from the download are fine)\n"
        f"  get it:     {info.url}: {info.how}\n"
        f"  licence:    {info.licence}\n"
        f"  then:       unpack it into {root}, or point the project at a data root that holds a "
        f"{info.folder}/ folder: --data-dir DIR or {paths.DATA_ENV}=DIR"
    )


def describe(key: str | None = None, data_dir: str | os.PathLike | None = None) -> str:
    """How to fetch one corpus (or all): title, page, licence, folder to create under the data root, layout."""
    keys = list(CORPORA) if key is None else [key]
    root = paths.data_root(data_dir)
    blocks = []
    for k in keys:
        info = corpus_info(k)
        blocks.append(
            f"{info.title} [{k}, language {info.language}]\n"
            f"  page:     {info.url}\n"
            f"  licence:  {info.licence}\n"
            f"  get:      {info.how}\n"
            f"  folder:   {root / info.folder}/  (under the data root; set it with --data-dir or "
            f"{paths.DATA_ENV})\n"
            f"  layout:   {info.folder}/{info.layout}  (sub-folders at any depth are fine)\n"
            f"  format:   {info.native_format}"
        )
    return "\n\n".join(blocks)
