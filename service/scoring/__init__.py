"""Pure scoring of committee–organization pairs by domain, with an optional text signal.

No database and no web: plain typed data in, scores and explanations out. docs/matching.md
has the formula. The modules: `taxonomy` (profiles and the domain tree), `weights` (the
score's coefficients), `reference` (the score of one pair and its explanation), `index` (the
fast path over a whole directory), `text` (the text signal). Nothing is imported here, so
that `service.config` can take `ScoringWeights` without loading the text signal's dictionaries.
"""
