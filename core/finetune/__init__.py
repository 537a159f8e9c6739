"""Fine-tuning: datasets of chat examples (imported, from git history, from a knowledge base) and their checks."""
