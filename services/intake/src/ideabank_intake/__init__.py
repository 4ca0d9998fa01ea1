"""Intake (registrera och fördela idén): capture every idea and route it to its ambassador."""
