// Simulator throughput: peer-rounds per wall-clock second of a D-PSGD run
// (random 6-regular graph; ring below 8 peers), for logistic regression and
// an MLP on 28x28 synthetic data with 64 samples per peer, 4 local SGD
// steps of batch 16 per round, one small evaluation at the end. Reports the
// process's peak resident memory too. Run:
//   ./build/sim_throughput_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "murmur/core/config.h"
#include "murmur/experiment/sim_run.h"

namespace murmur {
namespace {

double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void BM_DpsgdRounds(benchmark::State& state, const char* model) {
  const int64_t peers = state.range(0);
  const int64_t rounds = 10;
  Config config;
  const std::string sets[] = {
      "peers=" + std::to_string(peers),
      "data.dataset=synthetic",
      "data.synthetic_train=" + std::to_string(peers * 64),
      "data.synthetic_test=200",
      std::string("model.kind=") + model,
      "train.batch_size=16",
      "protocol.topology=regular",
      "protocol.degree=6",
      "protocol.rounds=" + std::to_string(rounds),
      "protocol.local_steps=4",
      "eval.every=1000000",
      "eval.peers=4",
  };
  for (const auto& s : sets) MURMUR_CHECK(config.Set(s).ok());
  RunConfig run = ReadRunConfig(config).value();
  for (auto _ : state) {
    RunSummary summary = RunExperiment(run, RunObserver{}).value();
    state.SetIterationTime(summary.wall_s - summary.setup_wall_s);
    state.counters["threads"] = static_cast<double>(summary.threads);
    state.counters["params"] = static_cast<double>(summary.num_params);
    state.counters["MB_sent"] = static_cast<double>(summary.stats.bytes_sent) / 1e6;
  }
  state.counters["peer_rounds_per_s"] = benchmark::Counter(
      static_cast<double>(peers * rounds) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
  state.counters["peak_rss_MB"] = PeakRssMb();
}

BENCHMARK_CAPTURE(BM_DpsgdRounds, logreg, "logreg")
    ->Arg(16)->Arg(100)->Arg(1000)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_DpsgdRounds, mlp, "mlp")
    ->Arg(16)->Arg(100)->Arg(1000)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace murmur

BENCHMARK_MAIN();
