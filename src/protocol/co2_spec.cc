// The "co2" protocol spec (registry.h): CO2 (Sun, Qin, Sun, Li, Li, Shen,
// Qiao, Zhong, ICLR 2024, "CO2: Efficient Distributed Training with Full
// Communication-Computation Overlap"). CO2 is local-updating training whose
// outer all-reduce runs during the next outer step's inner steps, so the
// outer update applied is one step stale: DiLoCo with one-step-delayed
// outer steps (diloco.h, DilocoConfig::delayed), plus the paper's two
// remedies for that staleness, the staleness gap penalty (co2.gap_penalty)
// and outer momentum clipping (co2.momentum_clip). Both are constants here,
// as in the authors' released implementation (fairscale-CO2); see
// docs/protocols/co2.md for what we measured.
#include "protocol/diloco_spec.h"

#include "protocol/spec_util.h"

namespace murmur {
namespace {

// DiLoCo's outer step (Nesterov, lr 0.7, momentum 0.9) with gap penalty 4
// and momentum clipping at 0.01: the best of what docs/protocols/co2.md
// measured (the authors' GPT-2 example's outer step, SlowMo's plain
// momentum 0.2 at lr 1 with clipping at 1, diverged in 1 of 3 seeds there).
// The [diloco] and [co2] keys override.
DilocoConfig Co2Defaults() {
  DilocoConfig c;
  c.delayed = true;
  c.gap_penalty = 4.0;
  c.momentum_clip = 0.01;
  return c;
}

Result<std::any> ReadCo2(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  DilocoConfig c = Co2Defaults();
  MURMUR_RETURN_IF_ERROR(ReadDilocoKeys(r, c));
  if (!c.delayed) {
    return Status::InvalidArgument(
        "diloco.delayed = false does not apply to protocol.kind = \"co2\": CO2's outer steps "
        "are one-step delayed by definition (use protocol.kind = \"diloco\" for undelayed "
        "ones); remove the key");
  }
  MURMUR_ASSIGN_OR_RETURN(c.gap_penalty, r.Double("co2.gap_penalty", c.gap_penalty, 1.0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.momentum_clip,
                          r.Double("co2.momentum_clip", c.momentum_clip, 0.0, 1e6));
  return std::any(c);
}

}  // namespace

extern const ProtocolSpec kCo2Spec;
const ProtocolSpec kCo2Spec{
    .name = "co2",
    .default_options = [] { return std::any(Co2Defaults()); },
    .read_options = ReadCo2,
    .has_server = [](const ProtocolConfig&) { return false; },
    .robust = RobustSupport::kRules,
    .prepare = PrepareDiloco,
    .make_node = MakeDilocoNode,
    .aggregation_size = DilocoAggregationSize,
};

}  // namespace murmur
