#include "run_snapshotter.h"

#include <cmath>

namespace murmur {
namespace {

constexpr uint32_t kLearnerSection = 0x4e52414c;  // "LARN"

}  // namespace

void RunSnapshotter::ScheduleAfter(double now_s) {
  // The next multiple of every_s after now: the same instants whether or not
  // the run was resumed in between.
  next_s_ = (std::floor(now_s / options_.every_s) + 1) * options_.every_s;
}

Status RunSnapshotter::Restore() {
  if (options_.every_s > 0) ScheduleAfter(0);
  if (options_.resume == nullptr) return Status::Ok();
  SnapshotReader in(options_.resume->body);
  const uint64_t learners = in.U64("learners");
  if (in.ok() && learners != learners_.size()) {
    return Status::Corrupt("snapshot holds ", learners, " learners, this run has ",
                           learners_.size());
  }
  for (Learner* learner : learners_) {
    in.Section(kLearnerSection, "learner");
    if (!in.ok()) break;
    MURMUR_RETURN_IF_ERROR(learner->Restore(in));
  }
  MURMUR_RETURN_IF_ERROR(in.status());
  MURMUR_RETURN_IF_ERROR(collector_.Restore(in));
  MURMUR_RETURN_IF_ERROR(sim_.Restore(in));
  if (in.remaining() != 0) {
    return Status::Corrupt("snapshot: ", in.remaining(), " bytes left over after the run's state");
  }
  if (options_.every_s > 0) ScheduleAfter(sim_.now().seconds());
  return Status::Ok();
}

bool RunSnapshotter::AfterEvent() {
  if (options_.every_s <= 0 || sim_.now().seconds() < next_s_) return true;
  ScheduleAfter(sim_.now().seconds());
  // The tasks in flight write their learners: run them before saving those.
  sim_.RunComputeInFlight();
  SnapshotWriter out;
  out.U64(learners_.size());
  for (const Learner* learner : learners_) {
    out.Section(kLearnerSection);
    learner->Save(out);
  }
  collector_.Save(out);
  sim_.Save(out);
  const auto [jsonl, csv] =
      options_.metrics_bytes ? options_.metrics_bytes() : std::pair<uint64_t, uint64_t>{0, 0};
  status_ = WriteSnapshotFile(options_.dir,
                              SnapshotHeader{.config_hash = options_.config_hash,
                                             .jsonl_bytes = jsonl,
                                             .csv_bytes = csv,
                                             .time_s = sim_.now().seconds()},
                              out.bytes());
  return status_.ok();
}

}  // namespace murmur
