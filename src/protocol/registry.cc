#include "murmur/protocol/registry.h"

#include <algorithm>

#include "murmur/protocol/bristle_combiner.h"
#include "murmur/robust/attacks.h"

namespace murmur {

// Each spec is defined beside its protocol (src/protocol/*_spec.cc) and
// listed once in protocol/protocols.inc.
#define MURMUR_PROTOCOL(spec) extern const ProtocolSpec spec;
#include "protocol/protocols.inc"
#undef MURMUR_PROTOCOL

namespace {

// An explicit list rather than static registrars, which a static library
// would drop unreferenced.
constexpr const ProtocolSpec* kSpecs[] = {
#define MURMUR_PROTOCOL(spec) &spec,
#include "protocol/protocols.inc"
#undef MURMUR_PROTOCOL
};

std::vector<std::string> SpecNames() {
  std::vector<std::string> names;
  for (const ProtocolSpec* spec : kSpecs) names.emplace_back(spec->name);
  return names;
}

// "fedavg", "dpsgd", ...: the specs that take [robust] rules and
// [byzantine] peers, for error messages.
std::string RobustSpecNames() {
  std::string names;
  for (const ProtocolSpec* spec : kSpecs) {
    if (spec->robust == RobustSupport::kNone) continue;
    names += (names.empty() ? "\"" : ", \"") + std::string(spec->name) + "\"";
  }
  return names;
}

bool SameInitialModel(std::span<Learner* const> learners) {
  std::span<const float> first = learners[0]->params();
  for (Learner* learner : learners) {
    std::span<const float> p = learner->params();
    if (!std::equal(p.begin(), p.end(), first.begin(), first.end())) return false;
  }
  return true;
}

// The Byzantine peers of a run and the attack configuration they carry out
// (ALIE's z resolved from the number of peers and attackers).
Status ResolveByzantine(const ProtocolSpec& spec, ProtocolRun& run) {
  run.attack = run.config->byzantine;
  MURMUR_ASSIGN_OR_RETURN(int64_t count, ByzantineCount(run.attack, run.num_peers));
  if (count == 0) return Status::Ok();
  if (run.attack.attack == AttackKind::kEquivocation && spec.has_server(*run.config)) {
    return Status::InvalidArgument(
        "byzantine.attack = \"equivocation\" needs several receivers: use protocol.kind = "
        "\"dpsgd\" or \"gossip\"");
  }
  if (run.attack.z == 0) {
    run.attack.z = AlieZ(static_cast<int>(run.num_peers), static_cast<int>(count));
  }
  run.byzantine = ChooseByzantinePeers(run.attack, run.num_peers, run.seed);
  return Status::Ok();
}

// Robust rules and Byzantine peers exist for the specs that say so; the
// other protocols would silently ignore them.
Status CheckRobustSupport(const ProtocolSpec& spec, const ProtocolRun& run) {
  const bool supported = spec.robust != RobustSupport::kNone;
  if (!supported && !run.combiner->is_plain_average()) {
    return Status::InvalidArgument(
        "a [robust] rule other than the mean applies to protocol.kind = ", RobustSpecNames(),
        "; this protocol aggregates with its own rule");
  }
  if (run.combiner->sybilwall() != nullptr && spec.robust != RobustSupport::kSybilWall) {
    return Status::InvalidArgument(
        "robust.rule = \"sybilwall\" keeps update histories and gossips them between "
        "D-PSGD rounds: use protocol.kind = \"dpsgd\", or robust.rule = "
        "\"similarity-downweighting\" for its history-free score");
  }
  if (!supported && !run.byzantine.empty()) {
    return Status::InvalidArgument(
        "Byzantine peers ([byzantine]) are simulated for protocol.kind = ", RobustSpecNames(),
        " only");
  }
  return Status::Ok();
}

// The honest peers' rule: Bristle replaces the span rule, so its combiner
// keeps the plain average, which Bristle peers never use.
Result<std::shared_ptr<const ModelCombiner>> MakeRunCombiner(const ProtocolConfig& config) {
  if (config.robust.rule == kBristleRule) {
    return ModelCombiner::Make(AggregatorConfig{.f = config.robust.f});
  }
  return ModelCombiner::Make(config.robust);
}

// [privacy] applies to the specs that implement it (dp_sampling_rate), over
// plain averaging: a robust rule's sensitivity to one update is not the
// clip norm, and the noise would not be calibrated.
Status CheckPrivacySupport(const ProtocolSpec& spec, const ProtocolRun& run) {
  const privacy::DpConfig& dp = run.config->privacy;
  if (run.config->secure_aggregation.enabled()) {
    const std::string_view mode =
        privacy::SecureAggregationModeName(run.config->secure_aggregation.mode);
    if (!spec.secure_aggregation) {
      return Status::InvalidArgument("privacy.secure_aggregation = \"", mode,
                                     "\" is implemented for protocol.kind = \"fedavg\", not \"",
                                     spec.name, "\": set it to \"none\" or change the protocol");
    }
    if (dp.mode == privacy::DpMode::kCentral) {
      return Status::InvalidArgument("privacy.secure_aggregation = \"", mode,
                                     "\" hides each update from the server, which privacy.mode = "
                                     "\"central\" needs to clip: use privacy.mode = \"local\"");
    }
    if (!run.combiner->is_plain_average() || !run.byzantine.empty() ||
        run.config->exchange_output_layer) {
      return Status::InvalidArgument("privacy.secure_aggregation = \"", mode,
                                     "\" gives the server only the sum of whole-model updates: "
                                     "drop the [robust] rule, the [byzantine] peers and "
                                     "train.trainable = \"output\", or set it to \"none\"");
    }
  }
  if (!dp.enabled()) return Status::Ok();
  if (spec.dp_sampling_rate == nullptr) {
    return Status::InvalidArgument(
        "privacy.mode = \"", privacy::DpModeName(dp.mode), "\" is implemented for "
        "protocol.kind = \"fedavg\", \"fedprox\", \"dpsgd\" and \"gossip\", not \"",
        spec.name, "\": set privacy.mode = \"none\" or change the protocol");
  }
  if (dp.mode == privacy::DpMode::kCentral && !spec.has_server(*run.config)) {
    return Status::InvalidArgument("privacy.mode = \"central\" needs a server that adds the "
                                   "noise; protocol.kind = \"", spec.name,
                                   "\" has none: use privacy.mode = \"local\"");
  }
  if (!run.combiner->is_plain_average() || run.config->exchange_output_layer) {
    return Status::InvalidArgument(
        "[privacy] calibrates its noise to plain averaging of whole models: drop the [robust] "
        "rule and train.trainable = \"output\", or set privacy.mode = \"none\"");
  }
  return Status::Ok();
}

}  // namespace

Result<const ProtocolSpec*> FindProtocolSpec(std::string_view name) {
  for (const ProtocolSpec* spec : kSpecs) {
    if (spec->name == name) return spec;
  }
  std::string known;
  for (const std::string& n : SpecNames()) known += (known.empty() ? "" : ", ") + n;
  return Status::InvalidArgument("unknown protocol.kind = \"", name, "\"; known: ", known);
}

std::span<const ProtocolSpec* const> ProtocolSpecs() { return kSpecs; }

Status ReadProtocolConfig(ConfigReader& r, ProtocolConfig& c) {
  MURMUR_ASSIGN_OR_RETURN(c.kind, r.String("protocol.kind", "dpsgd", SpecNames()));
  MURMUR_ASSIGN_OR_RETURN(const ProtocolSpec* spec, FindProtocolSpec(c.kind));
  MURMUR_ASSIGN_OR_RETURN(c.rounds, r.Int("protocol.rounds", c.rounds, 0, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.local_steps,
                          r.Int("protocol.local_steps", c.local_steps, 0, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.round_timeout_s,
                          r.Double("protocol.round_timeout_s", c.round_timeout_s, 0, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.options, spec->read_options(r, c));
  return Status::Ok();
}

Status CheckNoForeignProtocolKeys(const ConfigReader& r, const Config& raw,
                                  const ProtocolConfig& config) {
  for (const std::string& key : r.UnreadKeys()) {
    std::string readers;
    for (const ProtocolSpec* other : kSpecs) {
      if (other->name == config.kind) continue;
      ConfigReader probe(raw);
      (void)other->read_options(probe, config);
      if (!probe.WasRead(key)) continue;
      readers += (readers.empty() ? "\"" : ", \"") + std::string(other->name) + "\"";
    }
    if (readers.empty()) continue;
    return Status::InvalidArgument("config key '", key, "' applies to protocol.kind = ", readers,
                                   ", not to this run's protocol.kind = \"", config.kind,
                                   "\": remove it, or change protocol.kind");
  }
  return Status::Ok();
}

bool HasServer(const ProtocolConfig& config) {
  Result<const ProtocolSpec*> spec = FindProtocolSpec(config.kind);
  return spec.ok() && (*spec)->has_server(config);
}

Result<ProtocolRun> PrepareProtocolRun(const ProtocolConfig& config, const Model& model,
                                       int64_t num_peers, uint64_t seed,
                                       bool shared_initial_model) {
  if (num_peers < 1) return Status::InvalidArgument("a run needs at least one peer");
  MURMUR_ASSIGN_OR_RETURN(const ProtocolSpec* spec, FindProtocolSpec(config.kind));
  ProtocolRun run{.config = &config,
                  .model = &model,
                  .num_peers = num_peers,
                  .seed = seed,
                  .shared_initial_model = shared_initial_model};
  const bool bristle = config.robust.rule == kBristleRule;
  if (bristle) {
    MURMUR_RETURN_IF_ERROR(BristleOptionsFrom(config.robust).status());
    if (!config.exchange_output_layer) {
      return Status::InvalidArgument(
          "robust.rule = \"bristle\" exchanges and trains only the output layer: set "
          "train.trainable = \"output\" (and model.init_checkpoint to a pretrained body)");
    }
  }
  if ((config.exchange_output_layer || bristle) && !spec->exchanges_output_layer) {
    return Status::InvalidArgument(
        "exchanging only the output layer (train.trainable = \"output\", robust.rule = "
        "\"bristle\") is implemented for protocol.kind = \"dpsgd\"");
  }
  MURMUR_ASSIGN_OR_RETURN(run.combiner, MakeRunCombiner(config));
  MURMUR_RETURN_IF_ERROR(ResolveByzantine(*spec, run));
  MURMUR_RETURN_IF_ERROR(CheckRobustSupport(*spec, run));
  MURMUR_RETURN_IF_ERROR(CheckPrivacySupport(*spec, run));
  if (spec->prepare != nullptr) MURMUR_RETURN_IF_ERROR(spec->prepare(run));
  // After `prepare`, whose refusals are the more specific ones; from the
  // config alone, as `murmur sweep` checks it.
  MURMUR_RETURN_IF_ERROR(CheckRobustRuleFits(config, num_peers, seed));
  return run;
}

Status CheckRobustRuleFits(const ProtocolConfig& config, int64_t num_peers, uint64_t seed) {
  if (num_peers < 1) return Status::InvalidArgument("a run needs at least one peer");
  MURMUR_ASSIGN_OR_RETURN(const ProtocolSpec* spec, FindProtocolSpec(config.kind));
  if (spec->aggregation_size == nullptr) return Status::Ok();
  // The config-only part of PrepareProtocolRun's run: no model, no state.
  ProtocolRun run{.config = &config, .num_peers = num_peers, .seed = seed};
  MURMUR_ASSIGN_OR_RETURN(run.combiner, MakeRunCombiner(config));
  const ModelCombiner& combiner = *run.combiner;
  // The mean never fails for want of inputs; SybilWall scores whatever it
  // gets.
  if (combiner.is_plain_average() || combiner.sybilwall() != nullptr) return Status::Ok();
  MURMUR_RETURN_IF_ERROR(ResolveByzantine(*spec, run));
  MURMUR_ASSIGN_OR_RETURN(const AggregationSize size, spec->aggregation_size(run));
  const int f = config.robust.f;
  // A rule whose precondition fails for every aggregation a peer makes would
  // turn the run into local training with every aggregation counted as
  // failed.
  const Status fits = combiner.rule().CheckPreconditions(static_cast<size_t>(size.inputs), f);
  if (fits.ok()) return Status::Ok();
  return Status::InvalidArgument(
      "robust.rule = \"", config.robust.rule, "\" with robust.f = ", f, " needs at least ",
      combiner.rule().MinInputs(f), " inputs per aggregation (", fits.message(), "), but ",
      size.where, ": lower robust.f, or use ", size.remedy);
}

Result<std::unique_ptr<Node>> MakePeerNode(const ProtocolRun& run, const PeerContext& peer) {
  MURMUR_ASSIGN_OR_RETURN(const ProtocolSpec* spec, FindProtocolSpec(run.config->kind));
  const int64_t last = run.num_peers + (spec->has_server(*run.config) ? 1 : 0);
  if (peer.id.value >= last) {
    return Status::InvalidArgument("protocol \"", spec->name, "\" has no peer ", peer.id,
                                   " in a run of ", run.num_peers, " peers");
  }
  if (run.config->robust.rule == kBristleRule && peer.learner != nullptr &&
      peer.validation == nullptr) {
    return Status::InvalidArgument(
        "robust.rule = \"bristle\" needs a validation split on every peer: set "
        "data.validation_fraction > 0");
  }
  return spec->make_node(run, peer);
}

ProtocolLayout LayoutOf(const ProtocolRun& run) {
  const ProtocolSpec* spec = *FindProtocolSpec(run.config->kind);
  ProtocolLayout layout;
  layout.byzantine = run.byzantine;
  layout.round_model = spec->round_model;
  layout.num_nodes = run.num_peers;
  if (run.model != nullptr) layout.model_dimension = run.model->num_params();
  if (spec->has_server(*run.config)) {
    const PeerId server(static_cast<uint32_t>(run.num_peers));
    layout.server = server;
    layout.model_holders.push_back(server);
    ++layout.num_nodes;
    return layout;
  }
  for (int64_t i = 0; i < run.num_peers; ++i) {
    const PeerId peer(static_cast<uint32_t>(i));
    if (!std::binary_search(run.byzantine.begin(), run.byzantine.end(), peer)) {
      layout.model_holders.push_back(peer);
    }
  }
  return layout;
}

Result<ProtocolSetup> MakeProtocol(const ProtocolConfig& config,
                                   std::span<Learner* const> learners,
                                   const Model& model, uint64_t seed,
                                   std::span<const Dataset* const> validation) {
  const auto n = static_cast<int64_t>(learners.size());
  if (n < 1) return Status::InvalidArgument("a run needs at least one peer");
  MURMUR_ASSIGN_OR_RETURN(ProtocolRun run,
                          PrepareProtocolRun(config, model, n, seed, SameInitialModel(learners)));
  ProtocolSetup setup;
  setup.layout = LayoutOf(run);
  std::span<const float> initial = learners[0]->params();
  for (int64_t i = 0; i < setup.layout.num_nodes; ++i) {
    const PeerId id(static_cast<uint32_t>(i));
    PeerContext peer{.id = id, .initial_params = initial};
    if (i < n) {
      peer.learner = learners[i];
      peer.validation = validation.empty() ? nullptr : validation[i];
    }
    MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<Node> node, MakePeerNode(run, peer));
    setup.nodes.push_back(std::move(node));
  }
  return setup;
}

}  // namespace murmur
