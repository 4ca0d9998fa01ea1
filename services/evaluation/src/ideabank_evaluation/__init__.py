"""Evaluation (utvärdering av förbättringsförslag): screen every idea alike and develop promising ones into a decision basis."""
