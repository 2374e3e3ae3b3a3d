"""Detection rules, working calendars, the alert lifecycle and notifications."""
