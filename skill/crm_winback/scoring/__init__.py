"""Per-customer scoring (RFM, segment, lifecycle stage, churn risk) and the segment health scorecard."""

from .score import SCORE_COLUMNS, Scored, ScoreOptions, ScoreSummary, score, write_scores

__all__ = ["SCORE_COLUMNS", "ScoreOptions", "ScoreSummary", "Scored", "score", "write_scores"]
