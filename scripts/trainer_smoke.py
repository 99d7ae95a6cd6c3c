"""A real trainer consumes a published version: a few steps of TRL's DPOTrainer on train.parquet
and KTOTrainer on kto.parquet, loaded as they are.

    make trainer-smoke                      # the LATEST version under $PREFLINE_HOME
    .venv-trainer/bin/python scripts/trainer_smoke.py [VERSION_DIR]

No download: the tokenizer is trained here on the version's own text and the model is a tiny
randomly initialized Llama built from a config. Asserts every loss is finite and the trainers
kept the columns they need; writes bench/results/trainer-smoke.json.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

ROOT = Path(__file__).resolve().parents[1]
STEPS = 6
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def version_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    home = Path(os.environ.get("PREFLINE_HOME", ROOT / ".prefline_home"))
    latest = home / "datasets" / "preference_pairs" / "LATEST"
    if not latest.exists():
        raise SystemExit(f"no published version under {home}: run `make run` first")
    return latest.parent / latest.read_text().strip()


def texts_of(rows) -> list[str]:
    out = []
    for row in rows:
        for key in ("prompt", "chosen", "rejected", "completion"):
            for message in row.get(key) or []:
                out.append(message["content"])
    return out


def tokenizer_for(texts: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|pad|>", "<|eos|>", "<|unk|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
    tok = Tokenizer(models.BPE(unk_token="<|unk|>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=2000, special_tokens=specials, show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|eos|>", unk_token="<|unk|>",
                                   bos_token="<|eos|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    return LlamaForCausalLM(config)


def losses(trainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def main() -> None:
    import torch
    import transformers
    import trl
    from datasets import load_dataset
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

    vdir = version_dir()
    started = time.monotonic()
    train = load_dataset("parquet", data_files=str(vdir / "train.parquet"), split="train")
    kto = load_dataset("parquet", data_files=str(vdir / "kto.parquet"), split="train")
    tokenizer = tokenizer_for(texts_of(train.select(range(min(2000, len(train))))) + texts_of(kto))
    common = dict(max_steps=STEPS, per_device_train_batch_size=4, learning_rate=5e-4, logging_steps=1,
                  report_to=[], save_strategy="no", use_cpu=True, seed=0, max_length=256)
    result = {"version": vdir.name, "torch": torch.__version__, "trl": trl.__version__,
              "transformers": transformers.__version__, "train_rows": len(train), "kto_rows": len(kto)}
    with tempfile.TemporaryDirectory() as out:
        model = tiny_model(tokenizer)
        dpo = DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=DPOConfig(output_dir=f"{out}/dpo", **common),
                         train_dataset=train, processing_class=tokenizer)
        dpo.train()
        model = tiny_model(tokenizer)
        kto_trainer = KTOTrainer(model=model, ref_model=copy.deepcopy(model),
                                 args=KTOConfig(output_dir=f"{out}/kto", **common),
                                 train_dataset=kto, processing_class=tokenizer)
        kto_trainer.train()
    result["dpo_losses"], result["kto_losses"] = losses(dpo), losses(kto_trainer)
    result["dpo_columns"] = sorted(dpo.train_dataset.column_names)
    result["kto_columns"] = sorted(kto_trainer.train_dataset.column_names)
    result["wall_s"] = round(time.monotonic() - started, 1)
    problems = []
    for name in ("dpo_losses", "kto_losses"):
        if len(result[name]) < STEPS or not all(math.isfinite(x) for x in result[name]):
            problems.append(f"{name}: {result[name]}")
    # TRL tokenized prefline's own columns, as they are: nothing renamed, nothing dropped.
    for name, needed in (("dpo_columns", ("prompt", "chosen", "rejected", "prompt_ids", "chosen_ids", "rejected_ids")),
                         ("kto_columns", ("prompt", "completion", "label", "prompt_ids", "completion_ids"))):
        missing = [c for c in needed if c not in result[name]]
        if missing:
            problems.append(f"{name} lacks {missing}: {result[name]}")
    out_file = ROOT / "bench" / "results" / "trainer-smoke.json"
    out_file.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("columns")}, indent=2))
    if problems:
        raise SystemExit("trainer smoke failed: " + "; ".join(problems))
    print(f"trainer smoke passed: DPO and KTO on {vdir.name}, losses finite ({out_file})")


if __name__ == "__main__":
    main()
