// The protocol registry: one ProtocolSpec per protocol name ("dpsgd",
// "fedavg", ...). A spec reads its own config keys into its own options,
// prepares the run-wide state every peer shares (topology, Byzantine set,
// codec), and builds ONE peer's node. The simulator builds every node
// (MakeProtocol, protocol.h); a network peer builds only its own
// (MakePeerNode). docs/adding_a_protocol.md walks through adding one.
//
// The run-wide state depends only on the ProtocolConfig, the number of peers,
// the seed, the model's layout and whether every peer starts from the same
// model, so every process of a networked run computes the same state.
#pragma once

#include <any>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/model.h"
#include "murmur/protocol/model_combiner.h"
#include "murmur/protocol/protocol.h"

namespace murmur {

// What every peer's builder gets from the run, prepared once
// (PrepareProtocolRun) and identical in every process.
struct ProtocolRun {
  const ProtocolConfig* config = nullptr;
  const Model* model = nullptr;     // the layout (tensors, output layer)
  int64_t num_peers = 0;            // learners; a server is PeerId(num_peers)
  uint64_t seed = 0;
  bool shared_initial_model = true;  // every learner starts from peer 0's model
  std::vector<PeerId> byzantine;    // sorted (ChooseByzantinePeers)
  ByzantineConfig attack;           // with ALIE's z resolved
  std::shared_ptr<const ModelCombiner> combiner;  // the honest peers' rule
  std::any state;                   // the spec's own run-wide state
};

// One peer's inputs. `learner` is null for the server; it and `validation`
// must outlive the node.
struct PeerContext {
  PeerId id;
  Learner* learner = nullptr;
  // Peer 0's initial parameters: a server's starting global model, and what
  // protocols that need one shared start copy into their learner.
  std::span<const float> initial_params;
  const Dataset* validation = nullptr;  // robust.rule = "bristle" only
  // This process restarts the slot of a peer that ran earlier in the same
  // run (`murmur peer --rejoin`): protocols whose peers share one state
  // (diloco) join the running peers and pull that state instead of
  // starting from the beginning; the others ignore it.
  bool rejoin = false;
  // The rounds this peer completed in an earlier life whose state it
  // restored into `learner` (`murmur peer --persist-every`,
  // experiment/peer_state.h): the node starts at this round boundary.
  // Honoured by nodes that persist by round (PersistMode::kByRound:
  // "dpsgd", "epidemic", "dfedsam"); the others get 0 (a kBySnapshot node
  // restores its snapshot instead, Node::Restore).
  Round start_round{0};
  // This peer persists its state (`murmur peer --persist-every`), so its
  // neighbours may resume from other rounds: a round-synchronous node does
  // not wait for a sender already two rounds ahead
  // (RoundBarrierOptions::skip_senders_ahead; DpsgdOptions::resumable).
  bool persists = false;
};

// The fewest inputs an honest peer's [robust] rule gets in one aggregation
// of a run, and a description of that peer for error messages.
struct AggregationSize {
  int64_t inputs = 0;
  // e.g. "on protocol.topology = \"ring\" over 16 peers, peer 0 aggregates
  // 3 models (its 2 neighbours' and its own)".
  std::string where;
  // What gives peers more inputs, e.g. "a denser protocol.topology".
  std::string remedy;
};

// Whether a spec's peers may be asked for a robust rule or Byzantine peers.
enum class RobustSupport {
  kNone,       // plain averaging only; no [byzantine] peers
  kRules,      // [robust] rules and [byzantine] peers
  kSybilWall,  // also robust.rule = "sybilwall" (gossips update histories)
};

// Everything the rest of murmur knows about a protocol.
struct ProtocolSpec {
  std::string_view name;
  // Its default options (what a ProtocolConfig with empty `options` means).
  std::any (*default_options)();
  // Reads the protocol's own keys (docs/config.md) into its options;
  // kInvalidArgument naming the key and bad value. `shared` holds the keys
  // every protocol reads (rounds, local_steps, ...), already read.
  Result<std::any> (*read_options)(ConfigReader& r, const ProtocolConfig& shared);
  // Whether the nodes end with a server, PeerId(num_peers) (may depend on
  // the options: SPSA's FedKSeed mode).
  bool (*has_server)(const ProtocolConfig& config);
  RobustSupport robust = RobustSupport::kNone;
  // Only the output layer is exchanged when train.trainable = "output".
  bool exchanges_output_layer = false;
  // Whether a round waits on round_timeout_s (gossip never does).
  bool waits_for_rounds = true;
  RoundModel round_model = RoundModel::kEveryHolder;
  // Set for protocols that apply [privacy] (privacy/client_dp.h): the
  // probability that one peer's data enters a round's release (the
  // accountant's q): clients selected / clients for FedAvg, 1 for a peer
  // that sends every round. Null: privacy.mode must be "none".
  double (*dp_sampling_rate)(const ProtocolConfig& config, int64_t num_peers) = nullptr;
  // Whether the spec runs privacy.secure_aggregation (fedavg_secagg.h);
  // false: it must be "none".
  bool secure_aggregation = false;
  // Fills run.state; kInvalidArgument for options it cannot run with.
  Status (*prepare)(ProtocolRun& run) = nullptr;
  // Builds peer.id's node (the server's when peer.id == num_peers).
  Result<std::unique_ptr<Node>> (*make_node)(const ProtocolRun& run, const PeerContext& peer);
  // For specs with robust support: the fewest inputs a [robust] rule gets,
  // so CheckRobustRuleFits refuses a rule whose precondition
  // (Aggregator::MinInputs) can never hold in this run. Reads only
  // run.config, num_peers, seed and byzantine -- never run.model or
  // run.state -- so that it works from a config alone (a sweep's plan); it
  // builds what it needs (the seeded topology) itself. Errors: those of
  // building it (e.g. an edge-list file that cannot be read).
  Result<AggregationSize> (*aggregation_size)(const ProtocolRun& run) = nullptr;
  // Set for protocols whose runtime peers may persist their state (`murmur
  // peer --persist-every`; each node says how, Node::persist_mode): OK, or
  // kInvalidArgument naming the option whose state its peers cannot save
  // (e.g. FedAvg's compression), checked before `murmur launch` starts any
  // peer. Null: the flag is refused for the protocol.
  Status (*persistable)(const ProtocolConfig& config) = nullptr;
};

// The spec registered under `name`; kInvalidArgument listing the known names.
Result<const ProtocolSpec*> FindProtocolSpec(std::string_view name);
// Every registered spec, in registration order.
std::span<const ProtocolSpec* const> ProtocolSpecs();

// The spec's options in `config`, or its defaults when unset.
// REQUIRES: config.options, when set, holds a T.
template <typename T>
T ProtocolOptionsAs(const ProtocolConfig& config) {
  if (!config.options.has_value()) return T{};
  return std::any_cast<const T&>(config.options);
}

// The spec's options in `config` for changing fields in code, set to T's
// defaults first when unset. REQUIRES: config.options, when set, holds a T.
template <typename T>
T& MutableProtocolOptions(ProtocolConfig& config) {
  if (!config.options.has_value()) config.options = T{};
  return std::any_cast<T&>(config.options);
}

// Reads [protocol] (and the sections protocols own: [compress], [spsa]) into
// `config`: protocol.kind, the shared keys (rounds, local_steps,
// round_timeout_s), then the spec's own keys. kInvalidArgument for an
// unknown kind or a bad value.
Status ReadProtocolConfig(ConfigReader& r, ProtocolConfig& config);

// Call after every section is read: kInvalidArgument naming the first unread
// key of `raw` that another protocol's spec reads (e.g. protocol.topology in
// a "fedavg" run made by --set protocol.kind=fedavg over a D-PSGD config) and
// every protocol that reads it. A key no protocol reads is left to
// ConfigReader::CheckNoUnknownKeys.
Status CheckNoForeignProtocolKeys(const ConfigReader& r, const Config& raw,
                                  const ProtocolConfig& config);

// kInvalidArgument when the [robust] rule of `config` has a precondition on
// its number of inputs (Aggregator::MinInputs) that can never hold in a run
// of `num_peers` peers with `seed` (Krum with robust.f = 5 on a ring): the
// message names the rule, f, the count it needs, the honest peer with the
// fewest inputs and what gives it more. OK for the mean, bristle,
// sybilwall and protocols without robust support. Needs only the config:
// it builds the protocol's topology and Byzantine set (both seeded), not
// the data or the model, so `murmur sweep` checks every run of a grid with
// it before starting any; PrepareProtocolRun calls it too. Also returns the
// errors of building those (an unknown protocol.kind, a bad [robust] rule,
// a topology that cannot be built).
Status CheckRobustRuleFits(const ProtocolConfig& config, int64_t num_peers, uint64_t seed);

// Validates the robust/Byzantine configuration against the spec and
// prepares the run-wide state. kInvalidArgument also when the [robust]
// rule's precondition cannot hold for the inputs a peer gets
// (CheckRobustRuleFits). `shared_initial_model`: every learner starts
// from peer 0's parameters (train.init = "same").
Result<ProtocolRun> PrepareProtocolRun(const ProtocolConfig& config, const Model& model,
                                       int64_t num_peers, uint64_t seed,
                                       bool shared_initial_model);

// Which nodes `run` has, which hold models, which attack and which serves.
ProtocolLayout LayoutOf(const ProtocolRun& run);

// One peer's node, for a process that runs only that peer (the network
// runtime). REQUIRES: `run` from PrepareProtocolRun; peer.id < num_peers, or
// == num_peers for a protocol with a server.
Result<std::unique_ptr<Node>> MakePeerNode(const ProtocolRun& run, const PeerContext& peer);

}  // namespace murmur
