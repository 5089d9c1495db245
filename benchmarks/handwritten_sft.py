#!/usr/bin/env python
"""The plainest hand-written TRL SFT script: the baseline that specc's emitted SFT script is measured against.

Same job as the emitted LoRA SFT stage (same model, data, steps, batch, sequence length, LoRA shape,
precision, assistant-only loss) with nothing around it: no lock check, no firewall check, no tracking, no
progress callback, no resume logic. benchmarks/bench_sft_script.py runs both and compares throughput and
peak memory. Prints one JSON line with the trainer's metrics.
"""

import argparse
import json


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-steps", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--grad-accum", type=int, required=True)
    parser.add_argument("--max-length", type=int, required=True)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--lora-r", type=int, default=16)
    args = parser.parse_args()

    from datasets import load_dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    dataset = load_dataset("json", data_files=args.data, split="train")
    config = SFTConfig(
        output_dir=args.output_dir,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        max_length=args.max_length,
        learning_rate=args.lr,
        seed=args.seed,
        logging_steps=1,
        save_steps=200,
        bf16=False,
        use_cpu=True,
        activation_checkpointing=False,
        assistant_only_loss=True,
        report_to="none",
        disable_tqdm=True,
    )
    peft_config = LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.05,
                             target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=args.model, args=config, train_dataset=dataset, peft_config=peft_config)
    result = trainer.train()
    trainer.save_model(args.output_dir + "/adapter")
    tokens = max((row.get("num_tokens", 0) for row in trainer.state.log_history), default=0)
    print(json.dumps({"train_runtime": result.metrics["train_runtime"],
                      "train_samples_per_second": result.metrics["train_samples_per_second"],
                      "num_tokens": tokens}), flush=True)


if __name__ == "__main__":
    main()
