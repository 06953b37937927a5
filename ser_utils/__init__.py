"""ser_utils: the small package behind the ser-lab notebooks.

Everything the notebooks do lives here, so that each notebook stays a short, readable lecture:
corpus readers and the synthetic corpus (:mod:`ser_utils.corpora`, :mod:`ser_utils.synthetic`),
dataset names (:mod:`ser_utils.datasets`), parameters and reports (:mod:`ser_utils.params`,
:mod:`ser_utils.results`, :mod:`ser_utils.reporting`).
"""

__version__ = "0.1.0"
