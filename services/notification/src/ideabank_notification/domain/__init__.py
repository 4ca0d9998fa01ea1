"""Notification's domain: plain Python, no framework imports."""
