"""Visiting rosters: who of a district working group attends which branch meeting."""
