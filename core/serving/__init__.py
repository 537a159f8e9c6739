"""The local model server: one process that holds local models for the dashboard
(and anyone else) and answers OpenAI chat-completion requests, micro-batched."""
