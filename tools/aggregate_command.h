// `murmur aggregate`: runs one robust aggregation rule (robust/factory.h) on
// vectors stored as .npy files, to try a rule on real updates or check it
// against another implementation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/robust/factory.h"

namespace CLI {
class App;
}

namespace murmur::cli {

struct AggregateOptions {
  std::vector<std::string> inputs;  // one vector per .npy file
  std::string rule;                 // spec, see ParseStageSpec
  int f = 0;
  std::string pre;                  // comma-separated stage specs; empty: none
  std::string weights;              // comma-separated; empty: equal
  std::string reference;            // .npy file; empty: none
  uint64_t seed = 1;                // for bucketing
  int threads = 1;
  std::string out;                  // .npy file; empty: print values
};

// A stage spec is a name followed by options, each ":key=value", e.g.
// "multi-krum:m=3" or "clip:tau=5". kInvalidArgument naming the spec for an
// empty name, a missing '=', an empty key, a value that is not a finite
// number, or a key given twice. Names and keys are checked later, by
// MakeAggregator.
Result<PreAggregatorConfig> ParseStageSpec(std::string_view spec);
// The rule spec, f and a comma-separated list of stage specs as one config.
Result<AggregatorConfig> ParseAggregatorConfig(std::string_view rule, int f,
                                               std::string_view pre);
// "1,3,0.5" -> {1, 3, 0.5}; kInvalidArgument naming the bad entry.
Result<std::vector<double>> ParseNumberList(std::string_view list, std::string_view what);

// Registers the subcommand; `options` must outlive `app`.
CLI::App* AddAggregateCommand(CLI::App& app, AggregateOptions& options);
// Returns 0, 2 for a bad rule, option, input file or a rule precondition
// that the inputs fail, 1 when the output cannot be written.
int AggregateCommand(const AggregateOptions& options);

}  // namespace murmur::cli
