"""SLM throughput: slmlib's training step and generation against plain transformers, same run.

* training: slmlib's step (accelerate, bf16 autocast where supported, loss through the output
  layer on speech positions only) vs a plain loop (``model(**batch).loss`` under the same
  autocast) on the same model, batches and data: tokens/s and their ratio;
* padding: length-bucketed batches vs random batches of the same size: padding waste and
  effective (non-padding) tokens/s;
* MFU: model FLOPs utilisation of both training loops against the processor's nominal peak
  per thread (AMX: 1,024 bf16 FMAs per cycle per core; float32 elsewhere, where training runs
  in float32: AVX-512 32, AVX2 16), at the clock /proc/cpuinfo reports; where turbo runs faster than that
  the true peak is higher, so the figures are upper bounds. Model FLOPs per token (Kaplan et
  al.'s 6 N, N without an input embedding that is not also the output layer, attention ignored
  at these lengths): the plain loop runs every parameter on every position, 6 N; slmlib's runs
  the output layer only on positions with a speech target, 6 (N - N_out) + 6 N_out x that share
  of the batch's positions;
* generation: ``slmlib.model.generate.generate_speech`` (length-sorted batches of 64, static KV
  cache) vs ``model.generate`` at batch 8 with its defaults (dynamic cache), both greedy and with
  the same speech-only and length processors and the model's own position layout
  (:func:`slmlib.model.positions.position_ids`): tokens/s, ratio, and whether outputs are identical.

Sequences have the default world's shape (Thai: ~27 characters, ~60 speech tokens of a 13,312-
token codec vocabulary, a 3-s prompt on 30 %). Merges into bench/results.json.
Usage: .venv/bin/python bench/bench_slm.py [--steps 8] [--requests 64] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from slmlib.hardware import bf16_supported
from slmlib.model.config import SLMConfig
from slmlib.model.data import Utterance, bucketed_batches, collate, encode_examples, with_prompts
from slmlib.model.generate import LengthCap, Request, SpeechOnly, generate_speech, max_speech_tokens
from slmlib.model.positions import position_ids
from slmlib.model.train import build_model, load_slm, target_logprobs
from slmlib.model.vocab import IGNORE, SpeechVocab

try:                      # run as a script (bench/bench_slm.py) or as a module
    from common import merge_results
except ImportError:
    from bench.common import merge_results
N_SPEECH = 1024 * 13


SHAPES = {   # model shapes for --shape: the default tiny SLM, and Qwen2.5-0.5B's transformer
    "tiny": {},
    "qwen2-0.5b": {"architecture": "qwen2", "hidden_size": 896, "layers": 24, "heads": 14,
                   "intermediate_size": 4864, "batch_size": 16},
}
QWEN2_TEXT_VOCAB = 151_936
GPU_PEAK_TFLOPS = {"H200": 989, "H100": 989, "A100": 312, "L40S": 362, "L4": 121, "4090": 165, "A10": 125}


def _data(n: int, seed: int = 0, text_vocab: int = 0) -> tuple[SpeechVocab, list[Utterance]]:
    """Thai-like utterances; ``text_vocab`` pads the text vocabulary to a pretrained
    tokenizer's size, so the embedding and output layers have a real backbone's width."""
    rng = np.random.default_rng(seed)
    letters = [chr(c) for c in range(0x0E01, 0x0E2F)]
    filler = [chr(0x10000 + i) for i in range(max(text_vocab - len(letters), 0))]
    vocab = SpeechVocab.build(["".join(letters + filler)], ["th"], N_SPEECH)
    utts = []
    for i in range(n):
        chars = int(rng.integers(12, 45))
        text = "".join(rng.choice(letters, chars))
        utts.append(Utterance("th", text, f"s{i % 16}", rng.integers(0, N_SPEECH, int(chars * 2.3))))
    return vocab, utts


def _train_tokens_per_s(model, opt, batches, examples, pad_id, ours: bool, bf16: bool, device: str = "cpu") -> float:
    kind = "cuda" if device.startswith("cuda") else "cpu"
    tokens, start = 0, time.perf_counter()
    for b in batches:
        batch = {k: v.to(device) for k, v in collate([examples[i] for i in b], pad_id).items()}
        with torch.autocast(kind, dtype=torch.bfloat16, enabled=bf16):
            if ours:
                logp, mask = target_logprobs(model, batch)
                loss = -logp.sum() / mask.sum()
            else:
                loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(batch["input_ids"].numel())
    if kind == "cuda":
        torch.cuda.synchronize()
    return tokens / (time.perf_counter() - start)


def _target_share(batches, examples, pad_id) -> float:
    """Share of the batches' (padded) positions whose next token is a target: where slmlib's
    loss runs the output layer."""
    labels = [collate([examples[i] for i in b], pad_id)["labels"][:, 1:] for b in batches]
    return sum(int((y != IGNORE).sum()) for y in labels) / sum(y.numel() for y in labels)


def _padding(batches, lengths) -> float:
    total = sum(lengths[b].max() * len(b) for b in batches)
    return 1.0 - sum(lengths[b].sum() for b in batches) / total


def cpu_peak_flops(threads: int) -> tuple[float, str]:
    """Nominal peak FLOP/s of ``threads`` cores in bf16 (or fp32 without bf16 units) and how."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = set(next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), []))
    mhz = next((float(ln.split(":", 1)[1]) for ln in info.splitlines() if ln.startswith("cpu MHz")), 0.0)
    # training runs in bf16 only with AMX (slmlib.hardware.bf16_supported), else in float32
    fma, unit = ((1024, "AMX bf16") if "amx_bf16" in flags
                 else (32, "AVX512 fp32") if "avx512f" in flags else (16, "AVX2 fp32"))
    return 2 * fma * mhz * 1e6 * threads, f"{unit}, {fma} FMA/cycle/core at {mhz:.0f} MHz x {threads}"


def gpu_peak_flops() -> tuple[float, str]:
    """Dense bf16 tensor-core peak of the visible GPU from its name (vendor figures), or 0."""
    name = torch.cuda.get_device_name()
    tflops = next((v for k, v in GPU_PEAK_TFLOPS.items() if k in name), 0)
    return tflops * 1e12, f"{name}: {tflops} TFLOP/s dense bf16 (vendor figure)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--shape", default="tiny", choices=sorted(SHAPES),
                        help="model shape: the default tiny SLM or Qwen2.5-0.5B's (with its 152k text vocabulary)")
    parser.add_argument("--model", default="", help="a trained SLM folder (train_slm's output) for the "
                        "generation benchmark, e.g. a notebook-01 model under outputs/cache/slm.sft/<key>/model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SLMConfig(**SHAPES[args.shape])
    device = args.device
    bf16 = cfg.bf16 and bf16_supported(device)
    vocab, utts = _data(cfg.batch_size * 50, text_vocab=QWEN2_TEXT_VOCAB if args.shape != "tiny" else 0)
    examples = encode_examples(vocab, with_prompts(utts, cfg.prompt_prob, 75, 0))
    lengths = np.array([len(x) for x, _ in examples])
    rng = np.random.default_rng(0)
    bucketed = bucketed_batches(lengths, cfg.batch_size, rng)[: args.steps]
    random = [rng.permutation(len(lengths))[: cfg.batch_size] for _ in range(args.steps)]
    model = build_model(cfg, vocab, 0).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    _train_tokens_per_s(model, opt, random[:2], examples, vocab.pad_id, True, bf16, device)   # warm-up
    plain = _train_tokens_per_s(model, opt, random, examples, vocab.pad_id, False, bf16, device)
    ours = _train_tokens_per_s(model, opt, random, examples, vocab.pad_id, True, bf16, device)
    ours_bucketed = _train_tokens_per_s(model, opt, bucketed, examples, vocab.pad_id, True, bf16, device)
    waste_random, waste_bucketed = _padding(random, lengths), _padding(bucketed, lengths)
    training = {
        "device": device, "shape": args.shape, "parameters": sum(p.numel() for p in model.parameters()),
        "threads": args.threads, "bf16": bf16, "batch": cfg.batch_size, "steps": args.steps,
        "plain_tokens_per_s": round(plain), "slmlib_tokens_per_s": round(ours),
        "ratio_slmlib_vs_plain": round(ours / plain, 2),
        "padding_waste_random": round(waste_random, 3),
        "padding_waste_bucketed": round(waste_bucketed, 3),
        "effective_tokens_per_s_random": round(ours * (1 - waste_random)),
        "effective_tokens_per_s_bucketed": round(ours_bucketed * (1 - waste_bucketed)),
        "ratio_effective_bucketed_vs_random": round(
            ours_bucketed * (1 - waste_bucketed) / (ours * (1 - waste_random)), 2),
    }
    n_out = model.get_output_embeddings().weight.numel()
    # an input embedding is a lookup, not multiply-adds: counted only where it is the output layer
    tied = model.get_input_embeddings().weight is model.get_output_embeddings().weight
    n_all = sum(p.numel() for p in model.parameters()) - (0 if tied else model.get_input_embeddings().weight.numel())
    share = _target_share(random, examples, vocab.pad_id)
    flops_plain, flops_ours = 6 * n_all, 6 * (n_all - n_out) + 6 * n_out * share
    peak, how = cpu_peak_flops(args.threads) if device == "cpu" else gpu_peak_flops()
    if peak:
        training.update({"model_flops_per_token_plain": flops_plain, "output_layer_share": round(share, 3),
                         "model_flops_per_token_slmlib": round(flops_ours), "peak_flops_per_s": peak,
                         "peak": how, "mfu_plain": round(plain * flops_plain / peak, 4),
                         "mfu_slmlib": round(ours * flops_ours / peak, 4)})
    print(json.dumps(training, indent=1), flush=True)

    if args.model:      # a trained SLM speaks for as long as its text needs; a random one stops at once
        model, vocab = load_slm(args.model)
        letters = [c for c in vocab.characters if "\u0e00" <= c <= "\u0e7f"]
        rng = np.random.default_rng(1)
        utts = [Utterance("th", "".join(rng.choice(letters, int(rng.integers(12, 45)))), "s", np.zeros(0))
                for _ in range(args.requests)]
    model.eval()
    if device != "cpu":        # training throughput is what the GPU check measures
        return merge_results({f"slm_training_{device}_{args.shape}": training})
    requests = [Request("th", u.text) for u in utts[: args.requests]]
    start = time.perf_counter()
    fast = generate_speech(model, vocab, requests, temperature=0.0, top_p=1.0,
                           tokens_per_char=cfg.tokens_per_char, batch_size=cfg.generate_batch, seed=0)
    ours_s = time.perf_counter() - start
    from transformers import LogitsProcessorList

    size = model.config.vocab_size
    plain_out, start = [], time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(requests), 8):
            part = requests[i:i + 8]
            prefixes = [vocab.prefix(r.lang, r.text) for r in part]
            width = max(map(len, prefixes))
            ids = torch.tensor([[vocab.pad_id] * (width - len(p)) + p for p in prefixes])
            mask = (torch.arange(width)[None, :] >= torch.tensor([width - len(p) for p in prefixes])[:, None]).long()
            limits = [max_speech_tokens(r.text, cfg.tokens_per_char) for r in part]
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False,
                                 position_ids=position_ids(model, ids, mask),
                                 max_new_tokens=max(limits) + 1, pad_token_id=vocab.pad_id,
                                 eos_token_id=vocab.eos_id, logits_processor=LogitsProcessorList(
                                     [SpeechOnly(vocab, size), LengthCap(width, limits, vocab.eos_id)]))
            plain_out += [vocab.speech_from_ids(row[width:].numpy()) for row in out]
    plain_s = time.perf_counter() - start
    n_tokens = sum(len(x) + 1 for x in fast)
    generation = {"model": args.model or "random init", "requests": len(requests), "generated_tokens": n_tokens,
                  "plain_generate_batch8_tokens_per_s": round(n_tokens / plain_s),
                  "slmlib_tokens_per_s": round(n_tokens / ours_s),
                  "ratio_slmlib_vs_plain": round(plain_s / ours_s, 2),
                  "identical_greedy_outputs": all(np.array_equal(a, b) for a, b in zip(fast, plain_out))}
    print(json.dumps(generation, indent=1))
    merge_results({"slm_training": training, "slm_generation": generation})



if __name__ == "__main__":
    main()
