"""Extractive answers (the offline default): a direct answer first when one is good enough,
then the quotes that support it, or "not found". See `rag.answer.extractive`."""

from newscite.rag.answer.extractive import NOT_FOUND, Analysis, ExtractiveAnswerer
from newscite.rag.answer.model import AnswerModels
from newscite.rag.answer.sentences import Sentence, SentenceVectors

__all__ = ["NOT_FOUND", "Analysis", "AnswerModels", "ExtractiveAnswerer", "Sentence",
           "SentenceVectors"]
