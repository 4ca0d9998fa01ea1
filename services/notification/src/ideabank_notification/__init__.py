"""Notification (kommunicera): feedback to people, announcements to staff and webhooks for other systems."""
