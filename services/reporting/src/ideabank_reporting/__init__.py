"""Reporting: KPIs, network comparison and the board report, built only from events."""
