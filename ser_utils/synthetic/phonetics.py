"""Phone inventories and the sentence texts of the synthetic corpora.

Each sentence is a SAMPA-like transcription: words separated by spaces, syllables by ``.``, a
leading ``'`` marks the stressed syllable, a final ``?`` makes it a question (final F0 rise).
English sentences are the real RAVDESS and CREMA-D texts; the Italian ones follow EMOVO's sentence
kinds (``b`` brief, ``l`` long (shortened here), ``n`` nonsense, ``d`` questions) with EMOVO's
texts where known and Italian-like stand-ins otherwise. Formant targets are adult-male averages
(Peterson & Barney 1952; Hillenbrand et al. 1995); speakers rescale them by vocal-tract length.
"""

from __future__ import annotations

from dataclasses import dataclass

Formants = tuple[float, float, float]


@dataclass(frozen=True)
class Phone:
    """One phone: its manner, voicing, formant target (or locus) and frication noise."""

    symbol: str
    kind: str  # vowel | stop | fricative | affricate | nasal | approximant | trill | aspirate
    voiced: bool
    duration: float  # base duration (s) at a neutral speaking rate
    formants: Formants | None = None  # F1-F3 target / locus (Hz); None: coarticulated with neighbours
    glide_to: Formants | None = None  # diphthong end target
    noise_band: tuple[float, float] | None = None  # frication / burst band (Hz)
    noise_level: float = 0.0  # frication amplitude relative to a stressed vowel


@dataclass(frozen=True)
class Syllable:
    """A syllable of a parsed sentence, with its phones and prosodic position."""

    phones: tuple[Phone, ...]
    word: int
    stressed: bool
    word_final: bool


@dataclass(frozen=True)
class Sentence:
    """A parsed sentence: its syllables and whether it is a question."""

    syllables: tuple[Syllable, ...]
    question: bool


def _vowel(symbol: str, f: Formants, dur: float, glide_to: Formants | None = None) -> Phone:
    """A monophthong, or a diphthong when ``glide_to`` is given."""
    return Phone(symbol, "vowel", True, dur, f, glide_to)


_LABIAL: Formants = (250, 900, 2300)
_ALVEOLAR: Formants = (250, 1750, 2700)
_VELAR: Formants = (250, 1850, 2400)
_POSTALVEOLAR: Formants = (300, 1900, 2400)
_CONSONANTS = [
    Phone("p", "stop", False, 0.080, _LABIAL, noise_band=(500, 3000), noise_level=0.25),
    Phone("b", "stop", True, 0.070, _LABIAL, noise_band=(500, 3000), noise_level=0.12),
    Phone("t", "stop", False, 0.075, _ALVEOLAR, noise_band=(2500, 7500), noise_level=0.35),
    Phone("d", "stop", True, 0.065, _ALVEOLAR, noise_band=(2500, 7500), noise_level=0.18),
    Phone("k", "stop", False, 0.085, _VELAR, noise_band=(1300, 3800), noise_level=0.35),
    Phone("g", "stop", True, 0.070, _VELAR, noise_band=(1300, 3800), noise_level=0.18),
    Phone("f", "fricative", False, 0.095, (300, 1100, 2400), noise_band=(1500, 9000), noise_level=0.08),
    Phone("v", "fricative", True, 0.070, (300, 1100, 2400), noise_band=(1500, 9000), noise_level=0.05),
    Phone("s", "fricative", False, 0.105, (300, 1700, 2700), noise_band=(4000, 10000), noise_level=0.30),
    Phone("z", "fricative", True, 0.080, (300, 1700, 2700), noise_band=(4000, 10000), noise_level=0.15),
    Phone("S", "fricative", False, 0.110, _POSTALVEOLAR, noise_band=(2000, 7000), noise_level=0.30),
    Phone("T", "fricative", False, 0.090, (300, 1400, 2600), noise_band=(1500, 9000), noise_level=0.05),
    Phone("D", "fricative", True, 0.045, (300, 1400, 2600), noise_band=(1500, 8000), noise_level=0.03),
    Phone("h", "aspirate", False, 0.070, noise_level=0.15),
    Phone("tS", "affricate", False, 0.120, _POSTALVEOLAR, noise_band=(2000, 7000), noise_level=0.30),
    Phone("dZ", "affricate", True, 0.100, _POSTALVEOLAR, noise_band=(2000, 7000), noise_level=0.15),
    Phone("ts", "affricate", False, 0.120, (300, 1700, 2700), noise_band=(4000, 10000), noise_level=0.30),
    Phone("dz", "affricate", True, 0.100, (300, 1700, 2700), noise_band=(4000, 10000), noise_level=0.15),
    Phone("m", "nasal", True, 0.075, (280, 1000, 2200)),
    Phone("n", "nasal", True, 0.065, (280, 1600, 2600)),
    Phone("N", "nasal", True, 0.070, (280, 1900, 2300)),
    Phone("J", "nasal", True, 0.090, (280, 2100, 2800)),
    Phone("l", "approximant", True, 0.065, (380, 1050, 2700)),
    Phone("L", "approximant", True, 0.090, (300, 2000, 2800)),
    Phone("w", "approximant", True, 0.050, (300, 700, 2300)),
    Phone("j", "approximant", True, 0.050, (280, 2200, 3000)),
]

_ITALIAN_VOWELS = [
    _vowel("i", (290, 2250, 2950), 0.085),
    _vowel("e", (400, 2050, 2650), 0.085),
    _vowel("E", (550, 1850, 2550), 0.085),
    _vowel("a", (750, 1300, 2500), 0.090),
    _vowel("O", (570, 950, 2500), 0.085),
    _vowel("o", (430, 850, 2450), 0.085),
    _vowel("u", (310, 800, 2350), 0.080),
]
_ENGLISH_VOWELS = [
    _vowel("i", (300, 2300, 3000), 0.100),
    _vowel("I", (430, 2000, 2600), 0.075),
    _vowel("E", (580, 1800, 2600), 0.080),
    _vowel("{", (660, 1750, 2500), 0.110),
    _vowel("A", (750, 1200, 2500), 0.110),
    _vowel("O", (620, 950, 2500), 0.110),
    _vowel("U", (470, 1150, 2400), 0.075),
    _vowel("u", (330, 1000, 2300), 0.100),
    _vowel("V", (620, 1200, 2550), 0.080),
    _vowel("@", (500, 1500, 2500), 0.050),
    _vowel("3", (480, 1350, 1700), 0.110),
    _vowel("eI", (480, 1950, 2600), 0.150, (330, 2250, 2900)),
    _vowel("aI", (750, 1300, 2500), 0.160, (400, 2000, 2600)),
    _vowel("oU", (500, 950, 2450), 0.150, (350, 850, 2300)),
    _vowel("aU", (750, 1300, 2500), 0.160, (400, 900, 2300)),
    _vowel("OI", (550, 900, 2450), 0.160, (400, 2000, 2600)),
]

#: Phone inventory per language: Italian has a trilled /r/, English an approximant with a low F3.
_TRILL_R = Phone("r", "trill", True, 0.070, (450, 1300, 2500))
_APPROXIMANT_R = Phone("r", "approximant", True, 0.070, (420, 1200, 1650))
INVENTORIES: dict[str, dict[str, Phone]] = {
    "it": {p.symbol: p for p in [*_CONSONANTS, *_ITALIAN_VOWELS, _TRILL_R]},
    "en": {p.symbol: p for p in [*_CONSONANTS, *_ENGLISH_VOWELS, _APPROXIMANT_R]},
}

#: Transcribed sentence texts, per language and corpus sentence id.
SENTENCES: dict[str, dict[str, str]] = {
    "it": {
        "b1": "Li o.pe.'ra.i si 'al.tsa.no 'prE.sto",  # Gli operai si alzano presto
        "b2": "i vi.'dZi.li 'so.no mu.'ni.ti di pis.'tO.la",  # I vigili sono muniti di pistola
        "b3": "la ka.'ska.ta fa 'mol.to ru.'mo.re",  # La cascata fa molto rumore
        "l1": "lau.'tun.no 'prOs.si.mo 'tO.ni par.ti.'ra per la 'spaJ.Ja",  # L'autunno prossimo Tony partirà ...
        "l2": "'o.ra 'prEn.do la 'fel.pa di 'la ed 'Es.ko per 'fa.re",  # Ora prendo la felpa di là ed esco ...
        "l3": "un 'at.ti.mo 'dO.po sE in.kam.mi.'na.to",  # Un attimo dopo s'è incamminato ...
        "l4": "vor.'rEi il 'nu.me.ro te.le.'fO.ni.ko del siJ.'Jor 'pjat.ti",  # Vorrei il numero telefonico ...
        "n1": "la 'ka.za 'fOr.te 'vwO.le kol 'pa.ne",  # La casa forte vuole col pane
        "n2": "la 'fOr.tsa 'trO.va il 'pas.so e 'laL.Lo 'ros.so",  # La forza trova il passo e l'aglio rosso
        "n3": "il 'gat.to sta skor.'rEn.do 'nel.la 'pe.ra",  # Il gatto sta scorrendo nella pera
        "n4": "la 'pe.ra 'dZal.la 'kor.re sul 'mu.ro",
        "n5": "il 'ta.vo.lo 'kan.ta kol 'vEn.to 'ver.de",
        "d1": "'pOr.ti kon 'te 'kwel.la 'kO.za ?",  # Porti con te quella cosa?
        "d2": "'do.ve 'vai kon 'kwel.la 'bor.sa ?",
    },
    "en": {
        "01": "'kIdz Ar 'tO.kIN baI D@ 'dOr",  # Kids are talking by the door
        "02": "'dOgz Ar 'sI.tIN baI D@ 'dOr",  # Dogs are sitting by the door
        "IEO": "Its I.'lE.v@n @.'klAk",  # It's eleven o'clock
        "TIE": "'D{t Iz Ig.'z{kt.li wVt 'h{.p@nd",  # That is exactly what happened
        "IOM": "aIm An maI 'weI t@ D@ 'mi.tIN",  # I'm on my way to the meeting
        "IWW": "aI 'wVn.d@r wVt 'DIs Iz @.'baUt",  # I wonder what this is about
        "TAI": "Di 'Er.pleIn Iz 'Ol.moUst 'fUl",  # The airplane is almost full
        "MTI": "'meI.bi t@.'mA.roU It wIl bi 'koUld",  # Maybe tomorrow it will be cold
        "IWL": "aI wUd 'laIk @ 'nu @.'lArm 'klAk",  # I would like a new alarm clock
        "ITH": "aI 'TINk aI h{v @ 'dAk.t@rz @.'pOInt.m@nt",  # I think I have a doctor's appointment
        "DFA": "'doUnt f@r.'gEt @ 'dZ{.kIt",  # Don't forget a jacket
        "ITS": "aI 'TINk aIv 'sin DIs bI.'fOr",  # I think I've seen this before
        "TSI": "D@ 's3.fIs Iz 'slIk",  # The surface is slick
        "WSI": "wil 'stAp In @ 'kV.p@l @v 'mI.nIts",  # We'll stop in a couple of minutes
    },
}


def _split_phones(text: str, inventory: dict[str, Phone]) -> tuple[Phone, ...]:
    """Split one syllable's transcription into phones, longest symbol first."""
    symbols = sorted(inventory, key=len, reverse=True)
    phones, i = [], 0
    while i < len(text):
        match = next((s for s in symbols if text.startswith(s, i)), None)
        if match is None:
            raise ValueError(f"unknown phone at {text[i:]!r} in {text!r}")
        phones.append(inventory[match])
        i += len(match)
    return tuple(phones)


def parse_sentence(language: str, sentence_id: str) -> Sentence:
    """Parse a transcribed sentence of ``language`` into syllables (stress, word position)."""
    if language not in SENTENCES:
        raise ValueError(f"unknown language {language!r}; expected one of {sorted(SENTENCES)}")
    if sentence_id not in SENTENCES[language]:
        raise ValueError(f"unknown {language} sentence {sentence_id!r}; expected one of {sorted(SENTENCES[language])}")
    text = SENTENCES[language][sentence_id]
    question = text.endswith("?")
    words = text.rstrip(" ?").split()
    syllables = []
    for w, word in enumerate(words):
        parts = word.split(".")
        for i, part in enumerate(parts):
            stressed = part.startswith("'")
            phones = _split_phones(part.lstrip("'"), INVENTORIES[language])
            syllables.append(Syllable(phones, w, stressed, i == len(parts) - 1))
    return Sentence(tuple(syllables), question)
