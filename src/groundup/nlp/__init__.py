"""Classic NLP in NumPy and pure Python: cleaning, stemming, lemmas, n-grams, bag of words and TF-IDF,
word2vec, BLEU/ROUGE, and the labelled text sets for sentence classification.

Names load from their submodules on first use (`groundup.lazy`)."""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "datasets": ["LabelledTexts", "load_imdb", "load_sst2", "load_tweet_sentiment"],
    },
)
