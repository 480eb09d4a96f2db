// `murmur privacy epsilon`: the RDP accountant (privacy/accountant.h) on the
// command line. Given the noise multiplier, sampling rate, steps and delta
// it prints epsilon and the optimal order; given --target-epsilon instead of
// --sigma it solves for the smallest noise multiplier that reaches it. With
// --mechanism rqm it prints the epsilon of --steps releases of the
// randomized quantization mechanism on --dimension coordinates
// (privacy/rqm_accountant.h), the figure a run with
// privacy.secagg_encoding = "rqm" reports after --steps rounds.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace murmur::cli {

struct PrivacyOptions {
  double sigma = -1;           // noise multiplier; < 0: not given
  double target_epsilon = -1;  // < 0: not given
  double q = -1;               // sampling rate per step
  int64_t steps = -1;
  double delta = 1e-5;
  std::string conversion = "balle2020";  // or "classic"
  std::string mechanism = "gaussian";    // or "rqm"
  // --mechanism rqm: RqmConfig's fields (defaults as privacy.rqm_*'s) and
  // the coordinates of one release.
  double clip = 1.0;
  double rqm_delta = 2.0;
  int64_t levels = 16;
  double keep_probability = 0.5;
  int64_t dimension = -1;
};

// Registers `privacy` with its `epsilon` subcommand; `options` must outlive
// `app`. Returns the `privacy` subcommand.
CLI::App* AddPrivacyCommand(CLI::App& app, PrivacyOptions& options);
// Prints the result on stdout. Returns 0, or 2 with a message on stderr
// saying what to change for a missing or out-of-range value or a target no
// noise multiplier reaches.
int PrivacyCommand(const PrivacyOptions& options);

}  // namespace murmur::cli
