"""Pure scoring of committee–organization pairs by domain, with an optional text signal.

No database and no web: plain typed data in, scores and explanations out. docs/matching.md
has the formula.
"""

from service.scoring.index import Match, ProfileMatrix, TopMatches, top_matches, top_matches_all
from service.scoring.reference import Contribution, Explanation, explain, score_pair
from service.scoring.taxonomy import Profile, Relation, Taxonomy
from service.scoring.text import similarity, text_tokens
from service.scoring.weights import ScoringWeights

__all__ = [
    "Contribution",
    "Explanation",
    "Match",
    "Profile",
    "ProfileMatrix",
    "Relation",
    "ScoringWeights",
    "Taxonomy",
    "TopMatches",
    "explain",
    "score_pair",
    "similarity",
    "text_tokens",
    "top_matches",
    "top_matches_all",
]
