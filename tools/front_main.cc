// The `murmur` command users run: a light front end that does not load
// LibTorch. Loading Debian LibTorch's ~290 shared libraries costs ~0.36 s
// before main() even starts, which `murmur --help` and `murmur aggregate`
// (robust kernels over .npy files) should not pay. So this binary links only
// core and robust, and:
//   * `murmur`, `murmur -h`, `murmur --help`: prints the help listing every
//     subcommand (kHeavyCommands below plus `aggregate`); `murmur --version`;
//   * `murmur aggregate ...`: runs it here (aggregate_command.cc);
//   * anything else (`murmur run ...`, `murmur sweep ...`, `murmur peer ...`,
//     a subcommand's own --help, a typo): execs `murmur-train` -- main.cc,
//     the full CLI -- with the same argv, so its behaviour, output and exit
//     codes are exactly the full CLI's.
// murmur-train is looked up beside this binary (/proc/self/exe's
// directory), then in ../libexec/murmur/; MURMUR_TRAIN_BIN overrides both.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate_command.h"
#include "cli_common.h"

namespace {

// Subcommands murmur-train runs, with the descriptions their Add*Command
// registers (integration test FrontEnd.HelpListsEverySubcommandOfTheFullCli
// checks that the two stay in step).
struct HeavyCommand {
  const char* name;
  const char* description;
};
constexpr HeavyCommand kHeavyCommands[] = {
    {"run",
     "Run one simulated decentralized training run.\n"
     "With no CONFIG, runs the built-in quickstart: 16 peers, D-PSGD on a ring,\n"
     "an MLP on IID Fashion-MNIST. See examples/ for configs and docs/config.md\n"
     "for every key."},
    {"report",
     "Compare finished runs: a table with runs that differ only in their seed\n"
     "grouped (mean and 95% interval), an interactive HTML page, SVG/PNG figures.\n"
     "Example: murmur report runs/a-s1 runs/a-s2 runs/b-s1 runs/b-s2 --html r.html"},
    {"sweep",
     "Run a grid of simulations (every combination of the axes, every seed) as\n"
     "separate runs, a few at a time; tabulate and plot the final accuracy.\n"
     "Example: murmur sweep examples/sweep_quick.toml"},
    {"peer",
     "Run one peer of a run over the network (see docs/runtime.md).\n"
     "Every peer of a run gets the same CONFIG and its own --index; the FedAvg\n"
     "server is index `peers`. `murmur launch` starts a whole run on this machine."},
    {"launch",
     "Run N peers as local processes over the network runtime (127.0.0.1),\n"
     "with a fresh network key and allowlist, and merge their metrics."},
    {"privacy",
     "Differential privacy tools: the RDP accountants of the Poisson-subsampled\n"
     "Gaussian mechanism and of RQM (randomized quantization)"},
    {"keygen",
     "Write a peer key pair (DIR/peer.key) and a network key (DIR/net.key), mode 0600;\n"
     "print the public key for allowlists. Refuses to overwrite."},
    {"id", "Print the public key of a peer key file (hex)"},
    {"bench",
     "Benchmarks over real processes: `murmur bench allreduce --procs 4 --mib 64\n"
     "[--plain]` times the ring all-reduce and checks its results (JSON line)."},
};

// The same description main.cc gives the full CLI.
constexpr const char* kDescription =
    "murmur: train models across many peers without a trusted center.\n"
    "Start with:  murmur run            (built-in quickstart)\n"
    "             murmur run examples/fedavg.toml --out runs/fedavg\n"
    "             murmur report runs/quickstart runs/fedavg --svg acc.svg\n"
    "             murmur sweep examples/sweep_quick.toml\n"
    "             murmur aggregate --rule median g0.npy g1.npy g2.npy";

std::string TrainBinary() {
  if (const char* env = std::getenv("MURMUR_TRAIN_BIN"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "murmur-train";  // then execvp searches PATH
  const std::filesystem::path dir = self.parent_path();
  for (const auto& candidate : {dir / "murmur-train", dir / "../libexec/murmur/murmur-train"}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return (dir / "murmur-train").string();
}

// Replaces this process with murmur-train; returns only on failure.
int ExecTrain(char** argv) {
  const std::string train = TrainBinary();
  execvp(train.c_str(), argv);
  std::fprintf(stderr, "murmur: cannot start %s: %s (it is built beside murmur; "
               "rebuild with cmake --build build --target murmur)\n",
               train.c_str(), std::strerror(errno));
  return 1;
}

// Help, or `aggregate`, parsed exactly as the full CLI parses them.
int RunLight(int argc, char** argv) {
  CLI::App app(kDescription);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("murmur ") + MURMUR_VERSION,
                       "Print the version (CMake's project(VERSION)) and exit");
  murmur::cli::AggregateOptions aggregate_options;
  // Registered in main.cc's order: run, report, sweep, aggregate, peer, ...
  for (const HeavyCommand& command : kHeavyCommands) {
    if (std::string_view(command.name) == "peer") {
      murmur::cli::AddAggregateCommand(app, aggregate_options);
    }
    app.add_subcommand(command.name, command.description);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return murmur::cli::ExitForParseError(app, e, argc, argv);
  }
  return murmur::cli::AggregateCommand(aggregate_options);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view first = argc > 1 ? argv[1] : "";
  const bool here = argc == 2 && (first == "-h" || first == "--help" || first == "--version");
  if (here || first == "aggregate") return RunLight(argc, argv);
  return ExecTrain(argv);
}
