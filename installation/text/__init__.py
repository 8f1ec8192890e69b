"""Text for the poetry scene: reading corpora of poems, and a word chain that
writes new poems in their voice without quoting or repeating itself."""
from .chain import Poem, WordChain, Written
from .corpus import (capitalised, ends_sentence, read_corpus, read_corpus_file, read_poems, tokenize,
                     with_capital)
from .verse import Verse, closed

__all__ = ["Poem", "Verse", "WordChain", "Written", "capitalised", "closed", "ends_sentence",
           "read_corpus", "read_corpus_file", "read_poems", "tokenize", "with_capital"]
