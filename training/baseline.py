"""The plain baseline every model card compares against."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from spamfilter.comment import Comment, as_comment


def _texts(comments: list[Comment | str]) -> list[str]:
    return [as_comment(c).text for c in comments]


def build_baseline() -> Pipeline:
    """TF-IDF word 1–2-grams + char_wb 2–5-grams on the raw text, into a logistic regression."""
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2))),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))),
        ]
    )
    return make_pipeline(FunctionTransformer(_texts), features, LogisticRegression(max_iter=1000))
