// Takes and restores a simulated run's snapshots (sim_run.h RunSnapshots,
// run_snapshot.h): the body is every learner, then the evaluation
// collector, then the simulator with its nodes. Private to experiment/.
#pragma once

#include <span>

#include "murmur/experiment/eval_collector.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/learn/learner.h"
#include "murmur/sim/simulator.h"

namespace murmur {

class RunSnapshotter {
 public:
  // Everything must outlive the snapshotter.
  RunSnapshotter(const RunSnapshots& options, std::span<Learner* const> learners,
                 EvalCollector& collector, Simulator& sim)
      : options_(options), learners_(learners), collector_(collector), sim_(sim) {}

  // Restores options.resume, if any, into the freshly built run; kCorrupt
  // when the body does not fit it.
  Status Restore();
  // Call after every event: writes a snapshot once virtual time has reached
  // the next multiple of every_s. False (and status() says why) when the
  // snapshot could not be written: the run should stop.
  bool AfterEvent();
  const Status& status() const { return status_; }

 private:
  void ScheduleAfter(double now_s);
  const RunSnapshots& options_;
  std::span<Learner* const> learners_;
  EvalCollector& collector_;
  Simulator& sim_;
  double next_s_ = 0;
  Status status_;
};

}  // namespace murmur
