"""The local model's names and choices, readable without importing torch: the spec
grammar, configs and command lines check them; `core.llm.loading` acts on them."""

DEFAULT_MODEL = "smollm2"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
DTYPE_NAMES = ("float32", "bfloat16", "float16")
DTYPE_CHOICES = ("auto", *DTYPE_NAMES)
DEVICE_CHOICES = ("auto", "cpu", "cuda")
