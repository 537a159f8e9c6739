"""Model backends: one interface for asking any model something."""
