// qkv train: pretrain a llama from text or fine-tune one (--init), resume it exactly, export it to GGUF.
#include <cstdio>

#include "commands.h"
#include "qkv/error.h"
#include "qkv/train.h"
#include "qkv/train_distributed.h"

namespace qkv::cli {
namespace {

// Flags that shape the run: a resumed run takes them from its checkpoint.
constexpr const char* kRunFlags[] = {"--init", "--vocab",  "--dim", "--layers", "--heads", "--kv-heads", "--ffn",
                                     "--ctx",    "--untied", "--steps", "--batch", "--grad-accum", "--lr",
                                     "--min-lr", "--warmup", "--weight-decay", "--clip", "--seed", "--val-every"};
// Flags that shape the model: --init takes the shape from the model instead.
constexpr const char* kShapeFlags[] = {"--vocab", "--dim", "--layers", "--heads", "--kv-heads", "--ffn", "--untied"};

int run(CLI::App& cmd, train::TrainOptions o) {
  if (o.resume) {
    for (const char* flag : kRunFlags)
      if (cmd.count(flag) > 0)
        throw Error(ErrorKind::Usage, std::string(flag) +
                                          " cannot change on --resume: the checkpoint fixes the model, data order "
                                          "and schedule (start a new --out to change them)");
  } else if (!o.run.init.empty()) {
    for (const char* flag : kShapeFlags)
      if (cmd.count(flag) > 0)
        throw Error(ErrorKind::Usage, std::string(flag) + " cannot go with --init: the model's shape and vocabulary "
                                                          "are those of " + o.run.init);
    if (cmd.count("--ctx") == 0) o.run.shape.ctx = 0;  // the model's own context
  } else {
    train::Shape& s = o.run.shape;
    if (cmd.count("--kv-heads") == 0) s.kv_heads = s.heads;
    if (cmd.count("--ffn") == 0) s.ffn = (8 * s.dim / 3 + 15) / 16 * 16;
  }
  // Under mpirun: MPI for this command's lifetime; an error on one rank ends
  // the job, as the other ranks would wait for it forever.
  train::dist::Session mpi;
  train::TrainResult r;
  try {
    r = train::train(o);
  } catch (const std::exception& e) {
    if (train::dist::world() == 1) throw;
    std::fprintf(stderr, "qkv: rank %d: %s\n", train::dist::rank(), e.what());
    train::dist::abort_job(1);
  }
  if (!train::dist::is_root()) return 0;
  std::printf("step %lld: loss %.4f", static_cast<long long>(r.step), r.loss);
  if (r.eval_loss >= 0) std::printf(", eval loss %.4f", r.eval_loss);
  if (r.tokens_per_s > 0) std::printf(", %.0f tokens/s", r.tokens_per_s);
  std::printf("\ncheckpoint: %s\n", train::checkpoint_path(o.out_dir).c_str());
  if (!o.export_path.empty()) std::printf("model: %s\n", o.export_path.c_str());
  return 0;
}

}  // namespace

Runner add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train", "Train a llama from text, from scratch or from a model (--init); resumable, exports GGUF");
  cmd->footer(
      "Text files, folders (their *.txt, *.md, *.jsonl) and JSONL files ({\"text\": ...} per line) are\n"
      "tokenized once into OUT/data. Every 20th window of --ctx tokens is held out for evaluation.\n"
      "OUT/checkpoint.gguf (weights, AdamW state, data position) is written atomically every\n"
      "--save-every steps and at the end; --resume continues it bit for bit. The checkpoint is itself\n"
      "a GGUF model that 'qkv run' loads; --export writes a plain one.\n\n"
      "Data parallel (built with QKV_MPI): 'mpirun -np N qkv train --batch B ...' trains on global\n"
      "batches of N x B sequences, rank r taking rows r*B..(r+1)*B-1, with the gradients averaged\n"
      "(MPI_Allreduce): the same run as one process with --batch N*B. Rank 0 writes and reports.\n"
      "Resume with the same N. As root, OpenMPI needs OMPI_ALLOW_RUN_AS_ROOT=1 and\n"
      "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.\n\n"
      "--init MODEL fine-tunes instead of starting from random weights: a GGUF llama (float or quantized,\n"
      "dequantized to fp32; a checkpoint or export of this trainer is one), a Hugging Face folder or a\n"
      "PyTorch checkpoint (converted to an F32 GGUF first). The shape and vocabulary are the model's:\n"
      "--vocab, --dim, --layers, --heads, --kv-heads, --ffn and --untied are refused with it; --ctx may\n"
      "shorten the training sequences (and the exported context) below the model's context.\n\n"
      "Examples:\n"
      "  qkv train --data stories.txt --out run1 --steps 2000 --log run1/log.jsonl --export tiny.gguf\n"
      "  qkv train --resume --out run1 --export tiny.gguf\n"
      "  qkv train --init stories260K.gguf --data my-stories.txt --out ft1 --steps 200 --lr 3e-4 --ctx 128\n"
      "  qkv train --data corpus/ --vocab llama.gguf --dim 512 --layers 8 --heads 8 --kv-heads 4 --out run2");
  auto o = std::make_shared<train::TrainOptions>();
  train::RunConfig& r = o->run;
  const auto positive = CLI::PositiveNumber;
  cmd->add_option("--data", o->data, "Text files, folders or JSONL files to train on (repeatable)")
      ->type_name("PATH");
  cmd->add_option("--out", o->out_dir, "Folder of the run: checkpoint.gguf and the tokenized data/")
      ->required()
      ->type_name("DIR");
  cmd->add_option("--init", r.init,
                  "Fine-tune this model (GGUF, HF folder or PyTorch checkpoint) instead of random weights")
      ->check(CLI::ExistingPath)
      ->type_name("MODEL");
  cmd->add_flag("--resume", o->resume, "Continue OUT/checkpoint.gguf; model, data order and schedule come from it");
  cmd->add_option("--vocab", o->vocab, "Use the tokenizer of this GGUF (default: 256 bytes + <s> </s> <unk>)")
      ->check(CLI::ExistingFile)
      ->type_name("GGUF");

  cmd->add_option("--dim", r.shape.dim, "Model width")->check(positive)->capture_default_str()->group("Model");
  cmd->add_option("--layers", r.shape.layers, "Transformer blocks")->check(positive)->capture_default_str()->group("Model");
  cmd->add_option("--heads", r.shape.heads, "Attention heads (--dim must be a multiple)")
      ->check(positive)->capture_default_str()->group("Model");
  cmd->add_option("--kv-heads", r.shape.kv_heads,
                  "Key/value heads, fewer than --heads for grouped-query attention (default: --heads)")
      ->check(positive)->group("Model");
  cmd->add_option("--ffn", r.shape.ffn, "MLP hidden size (default: 8/3 x --dim, rounded up to a multiple of 16)")
      ->check(positive)->group("Model");
  cmd->add_option("--ctx", r.shape.ctx, "Sequence length in training, and the model's context")
      ->check(positive)->capture_default_str()->group("Model");
  cmd->add_flag_function("--untied", [&r](int64_t) { r.shape.tied = false; },
                "A separate output matrix instead of reusing the token embedding")->group("Model");

  cmd->add_option("--steps", r.schedule.steps, "Optimizer steps in all")
      ->check(positive)->capture_default_str()->group("Optimization");
  cmd->add_option("--batch", r.batch, "Sequences per micro-batch")->check(positive)->capture_default_str()->group("Optimization");
  cmd->add_option("--grad-accum", r.grad_accum, "Micro-batches per step (gradient accumulation)")
      ->check(positive)->capture_default_str()->group("Optimization");
  cmd->add_option("--lr", r.schedule.lr, "Peak learning rate, reached after --warmup steps")
      ->check(positive)->capture_default_str()->group("Optimization");
  cmd->add_option("--min-lr", r.schedule.min_lr, "Learning rate at the end of the cosine decay")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Optimization");
  cmd->add_option("--warmup", r.schedule.warmup, "Steps of linear warmup")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Optimization");
  cmd->add_option("--weight-decay", r.adamw.weight_decay, "AdamW's decoupled weight decay (matrices only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Optimization");
  cmd->add_option("--clip", r.clip, "Clip gradients to this global norm (0: no clipping)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Optimization");
  cmd->add_option("--seed", r.seed, "Seed of the initial weights and the data order")->capture_default_str()->group("Optimization");
  cmd->add_option("--val-every", r.val_every, "Hold out every Nth window for evaluation (0: none)")
      ->capture_default_str()->group("Optimization");

  cmd->add_option("--eval-every", o->eval_every, "Evaluate on held-out data every N steps (0: never)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Run");
  cmd->add_option("--eval-batches", o->eval_batches, "Held-out batches per evaluation")
      ->check(positive)->capture_default_str()->group("Run");
  cmd->add_option("--save-every", o->save_every, "Checkpoint every N steps, and always at the end (0: only at the end)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group("Run");
  cmd->add_option("--stop-at", o->stop_at, "Stop (and checkpoint) after this step; --resume goes on from there")
      ->check(positive)->group("Run");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all cores)")->group("Run");
  cmd->add_option("--log", o->log_path, "Append a JSON line per step and evaluation to this file")
      ->type_name("FILE.jsonl")->group("Run");
  cmd->add_option("--export", o->export_path, "Write the trained model as a GGUF file at the end")
      ->type_name("OUT.gguf")->group("Run");
  return [cmd, o] { return run(*cmd, *o); };
}

}  // namespace qkv::cli
