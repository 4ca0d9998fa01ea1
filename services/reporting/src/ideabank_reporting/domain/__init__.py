"""Reporting's domain: plain Python, no framework imports.

``projection`` says how each event moves an idea's fact row and timeline; ``figures`` turns
counts and durations into the SPEC §7 measures (medians, ratios, suppression, headcounts).
"""
