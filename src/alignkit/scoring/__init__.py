"""Scoring: deciding what a response says.

For now this holds answer matching (:func:`answer_matches`, :func:`extract_number`,
:func:`normalize`), shared by every check that compares a response with a known answer.
"""

from alignkit.scoring._answers import answer_matches, extract_number, normalize

__all__ = ["answer_matches", "extract_number", "normalize"]
