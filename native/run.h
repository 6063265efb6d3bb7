// run.h: one Run, prepared on the main thread, executed anywhere, collected on the main thread.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <vector>

#include "options.h"
#include "runner.h"
#include "session.h"
#include "value.h"

namespace ortn {

class RunCall {
 public:
  explicit RunCall(std::shared_ptr<SessionCore> core) : core_(std::move(core)) {}
  ~RunCall();
  RunCall(const RunCall&) = delete;
  RunCall& operator=(const RunCall&) = delete;

  // Main thread. What to run is in `descriptor` (run.cc, Descriptor), the data in `slots`: each
  // feed's, then each preallocated fetch's (the caller's memory ONNX Runtime writes into). With
  // `pin`, the arrays lent to ONNX Runtime are referenced until Unpin (an async run); a sync run's
  // caller holds them anyway.
  void Prepare(Napi::Env env, Napi::Value descriptor, Napi::Value slots, Napi::Value options, bool pin);
  void Execute();  // any thread; throws OrtFailure
  // The thread that executed it, after Execute: copies the outputs that go back as copies and
  // releases them there (run.cc). Collect then builds from the copies.
  void StageOutputs();
  // Main thread: the outputs, in fetch order, as [block, slot...] (run.cc, Collect); a sync run's
  // `block` reused from the last one.
  Napi::Value Collect(Napi::Env env, bool reuse_block);
  void Unpin(napi_env env);  // main thread; idempotent
  void Cancel() noexcept;    // any thread

 private:
  std::shared_ptr<SessionCore> core_;
  RunOptionsPtr options_;
  bool plain_options_ = false;  // options_ from TakePlainRunOptions, to go back there
  std::vector<ValuePtr> inputs_;
  std::vector<ValuePtr> parts_;  // the tensors inside sequence and map inputs

  // An async run's inputs over the caller's bytes, checked in Prepare and made on the runner just
  // before Run, released there just after it (in inputs_[index]). ONNX Runtime's objects for them
  // then come from and go back to the runner's own malloc cache. Made on the main thread, they were
  // read by Run on another core and freed on the main thread after the hand-back: 1.4-2.1 µs of
  // the main thread's time between a result and the caller's continuation (silero's 4 inputs),
  // where making them on the runner adds about as much to the run and takes 1 µs off Prepare.
  // Measured in one process with the two ways in alternating blocks: silero's run() 0.8-1.4%
  // faster, 30 blocks each, three processes; its inputs and outputs with no compute, on runners,
  // 5.5-6.3% (ORT_NAPI_INLINE_RUN_US=0).
  // Their dims share one array (no allocation an input).
  struct RunnerInput {
    size_t index;
    ONNXTensorElementDataType type;
    LentRange bytes;
    size_t dims_at, rank;  // in runner_dims_
  };
  std::vector<RunnerInput> runner_inputs_;
  std::vector<int64_t> runner_dims_;

  std::vector<const OrtValue*> input_values_;
  std::vector<const char*> input_names_;
  std::vector<const char*> output_names_;
  std::vector<uint32_t> output_index_;
  std::vector<OrtValue*> outputs_;
  std::vector<ValuePtr> preallocated_;  // parallel to outputs_; set where the caller gave the memory
  std::vector<bool> hand_back_;         // parallel to outputs_: preallocated in ONNX Runtime's memory (strings)
  std::vector<napi_ref> pins_;          // raw: leaked, never deleted, if the environment goes first
  std::vector<LentRange> lent_;

  // How each output goes back (run.cc, Collect): planned where it ran, or in Collect.
  struct OutputPlan {
    bool numeric = false, copy = false;
    TensorShape shape;
    void* bytes = nullptr;  // ONNX Runtime's memory; null once staged
    size_t byte_length = 0, offset = 0;
  };
  void PlanOutputs();
  std::vector<OutputPlan> plan_;
  size_t header_ = 0, copied_ = 0;  // the block's header, in doubles, and its copied bytes
  std::vector<char> staged_bytes_;  // the copied outputs' bytes, where StageOutputs ran
  bool staged_ = false;
};

// A RunCall executed on the runner threads.
class RunTask : public Task {
 public:
  RunTask(Napi::Env env, std::unique_ptr<RunCall> call) : Task(env), call_(std::move(call)) {}
  void Execute() noexcept override;
  void Complete(Napi::Env env) override;
  void Cancel() noexcept override { call_->Cancel(); }

 private:
  std::unique_ptr<RunCall> call_;
  std::optional<OrtFailure> failure_;
};

}  // namespace ortn
