// qkv dpo: preference optimisation (DPO) of a llama from chosen / rejected pairs.
#include <cstdio>

#include "commands.h"
#include "qkv/train_dpo.h"

namespace qkv::cli {

Runner add_dpo(CLI::App& app) {
  auto* cmd = app.add_subcommand("dpo", "Preference-tune a llama on chosen/rejected pairs (DPO, TRL's sigmoid loss)");
  cmd->footer(
      "--data is JSONL, one {\"prompt\": ..., \"chosen\": ..., \"rejected\": ...} per line. Each completion is\n"
      "tokenized on its own after the prompt (which gets the vocabulary's BOS) and ends with EOS.\n"
      "The loss is TRL DPOTrainer's with loss_type=\"sigmoid\" and no label smoothing:\n"
      "  log pi(y) = sum of log p(token) over y's tokens (prompt tokens masked)\n"
      "  z         = beta * ((log pi(chosen) - log pi(rejected)) - (log ref(chosen) - log ref(rejected)))\n"
      "  loss      = mean over the batch of -log sigmoid(z)\n"
      "  rewards   chosen = beta * (log pi(chosen) - log ref(chosen)), rejected likewise;\n"
      "            reward accuracy = mean(chosen > rejected), margin = mean(chosen - rejected)\n"
      "pi is the model being trained; ref is frozen: the --init weights, or --ref MODEL (same vocabulary),\n"
      "scored once before the first step. MODEL is a GGUF llama (float or quantized), a Hugging Face\n"
      "folder or a PyTorch checkpoint, as for 'qkv train --init'. Pairs longer than --ctx + 1 tokens lose\n"
      "the start of their prompt, then the ends of their completions. The log has a JSON line per step\n"
      "and evaluation (loss, rewards/accuracy, rewards/margin, rewards/chosen, rewards/rejected).\n"
      "OUT/model.gguf is the tuned model (F32); --export writes a copy elsewhere.\n\n"
      "Examples:\n"
      "  qkv dpo --init tiny.gguf --data prefs.jsonl --out dpo1 --steps 200 --lr 5e-6 --log dpo1/log.jsonl\n"
      "  qkv dpo --init sft/ --ref base.gguf --data prefs.jsonl --out dpo2 --beta 0.3 --val-every 10");
  auto o = std::make_shared<train::DpoOptions>();
  const auto positive = CLI::PositiveNumber;
  cmd->add_option("--init", o->init, "The model to tune (GGUF, HF folder or PyTorch checkpoint)")
      ->required()
      ->check(CLI::ExistingPath)
      ->type_name("MODEL");
  cmd->add_option("--data", o->data, "Preference pairs, JSONL")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  cmd->add_option("--out", o->out_dir, "Folder of the run: model.gguf at the end")->required()->type_name("DIR");
  cmd->add_option("--ref", o->ref, "The frozen reference model (default: the --init weights)")
      ->check(CLI::ExistingPath)
      ->type_name("MODEL");
  cmd->add_option("--beta", o->beta, "DPO's beta: how far the policy may move from the reference")
      ->check(positive)->capture_default_str()->group("Optimization");
  cmd->add_option("--steps", o->schedule.steps, "Optimizer steps")->check(positive)->capture_default_str()
      ->group("Optimization");
  cmd->add_option("--batch", o->batch, "Pairs per step")->check(positive)->capture_default_str()->group("Optimization");
  cmd->add_option("--lr", o->schedule.lr, "Peak learning rate (AdamW, betas 0.9 / 0.999)")
      ->check(positive)->capture_default_str()->group("Optimization");
  cmd->add_option("--min-lr", o->schedule.min_lr, "Learning rate at the end of the cosine decay")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Optimization");
  cmd->add_option("--warmup", o->schedule.warmup, "Steps of linear warmup")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Optimization");
  cmd->add_option("--weight-decay", o->adamw.weight_decay, "AdamW's decoupled weight decay (matrices only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Optimization");
  cmd->add_option("--clip", o->clip, "Clip gradients to this global norm (0: no clipping)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Optimization");
  cmd->add_option("--seed", o->seed, "Seed of the order of the pairs")->capture_default_str()->group("Optimization");
  cmd->add_option("--ctx", o->ctx, "Longest sequence, prompt and completion (default: the model's context)")
      ->check(positive)->group("Optimization");
  cmd->add_option("--val-every", o->val_every, "Hold out every Nth pair for evaluation (0: none)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Run");
  cmd->add_option("--eval-every", o->eval_every, "Evaluate the held-out pairs every N steps, and at the end")
      ->check(CLI::NonNegativeNumber)->group("Run");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->group("Run");
  cmd->add_option("--log", o->log_path, "Append a JSON line per step and evaluation to this file")
      ->type_name("FILE.jsonl")->group("Run");
  cmd->add_option("--export", o->export_path, "Also write the tuned model to this GGUF file")
      ->type_name("OUT.gguf")->group("Run");
  return [o] {
    const train::DpoResult r = train::dpo(*o);
    std::printf("step %lld: loss %.4f, reward accuracy %.3f, margin %.4f", static_cast<long long>(r.step),
                r.last.loss, r.last.accuracy, r.last.margin);
    if (r.evaluated)
      std::printf("; held out: loss %.4f, reward accuracy %.3f, margin %.4f", r.eval.loss, r.eval.accuracy,
                  r.eval.margin);
    std::printf("\nmodel: %s\n", r.model_path.c_str());
    if (!o->export_path.empty()) std::printf("model: %s\n", o->export_path.c_str());
    return 0;
  };
}

}  // namespace qkv::cli
