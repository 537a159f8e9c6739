"""RAG-or-Tune Lab core: every piece of logic the dashboard and the CLI share.

Nothing in this package imports streamlit, so it can be imported, tested and
scripted without a browser.
"""

import logging

# transformers (its Trainer, already its TrainerCallback) and peft import bitsandbytes whenever it is
# installed, QLoRA or not, and on CPUs with AVX512_BF16 it then warns that it cannot fetch an optional
# kernel from the hub. The lab never downloads, so that line is noise in every training log and terminal.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
