"""Ideabank plumbing shared by the services. No domain logic lives here."""
