"""A deterministic synthetic emotional-speech corpus, in the exact layouts of EMOVO, RAVDESS and CREMA-D.

No real corpus can be downloaded here, so the default run and the tests use corpora this package
writes itself, with the real folder structure, file names, sample rates and channel counts, so that
the real file-name readers are exercised::

    from ser_utils.synthetic import ensure_corpus
    folder = ensure_corpus("emovo", data_root, size="small")   # -> data_root/EMOVO

Model of speech (see :mod:`.voice`): a source-filter synthesiser. Rosenberg glottal pulses follow an
F0 contour (phrase declination, pitch accents on stressed syllables, final fall or rise) with jitter,
shimmer, creak and tremor, plus aspiration noise and a tension-dependent spectral tilt; a cascade of
five formant resonators follows vowel targets and consonant loci (:mod:`.phonetics`), scaled by the
speaker's vocal-tract length; band-passed noise makes fricatives and plosive bursts; pauses split
phrases. Each speaker (:mod:`.profiles`) has a baseline voice (F0 by sex, formant scale, loudness,
breathiness, rate), an idiosyncratic way and strength of expressing each emotion, and a recording
channel (EQ, small room, noise floor); speaker identity is therefore a strong confound, as in real
corpora, and speaker-independent evaluation is harder than a random split.

Emotion profiles, as deviations from neutral (Scherer 2003, "Vocal communication of emotion",
Speech Communication 40; Juslin & Laukka 2003, Psychological Bulletin 129(5), table 7; Banse &
Scherer 1996): anger - higher F0, wider range, louder, faster, tenser/flatter tilt; happiness -
higher F0, wide range, faster, louder; sadness - lower F0, narrow range, softer, slower, steeper
tilt, breathier, longer pauses, hypo-articulated; fear - high F0, jitter, tremor, fast, irregular;
disgust - lower F0, slow, lengthened stressed syllables, creak; surprise - high F0 with a large final
rise; calm - like neutral but softer, slower, narrower. Intensity scales the deviation. Italian
(EMOVO) is syllable-timed with unaspirated stops and a trilled /r/; English is stress-timed with
reduced vowels and aspirated stops, so cross-corpus transfer is a real shift while every emotion
acts in the same direction in all three layouts.
"""

from .corpus import GENERATOR_VERSION, MARKER, WAV_TAG, corpus_items, ensure_corpus, generate_corpus
from .layouts import LAYOUTS, SIZES
from .profiles import EMOTIONS
from .voice import synthesize_utterance

__all__ = [
    "EMOTIONS",
    "GENERATOR_VERSION",
    "LAYOUTS",
    "MARKER",
    "SIZES",
    "WAV_TAG",
    "corpus_items",
    "ensure_corpus",
    "generate_corpus",
    "synthesize_utterance",
]
