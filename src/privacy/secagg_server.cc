// The server's four rounds of SecAgg / SecAgg+ (privacy/secagg.h).
#include <algorithm>
#include <map>

#include "privacy/secagg_internal.h"

namespace murmur::privacy {

using secagg::Key;
using secagg::Label;

struct SecAggServer::State {
  const SecAggConfig* config;
  int phase = 0;
  std::map<uint32_t, std::pair<Key, Key>> keys;                         // U1
  std::set<uint32_t> sharers;                                           // U2
  std::map<uint32_t, std::vector<std::pair<uint32_t, Bytes>>> inbox;    // to -> (from, box)
  std::map<uint32_t, std::vector<uint32_t>> masked;                     // U3
  std::set<uint32_t> survivors;
  std::set<uint32_t> unmaskers;
  std::map<uint32_t, std::vector<ShamirShare>> self_shares, key_shares;  // owner -> shares
};

SecAggServer::SecAggServer(const SecAggConfig* config) : state_(std::make_unique<State>()) {
  MURMUR_CHECK(config->Validate().ok());
  secagg::InitSodium();
  state_->config = config;
}

SecAggServer::~SecAggServer() = default;

const std::set<uint32_t>& SecAggServer::survivors() const { return state_->survivors; }

const std::vector<uint32_t>* SecAggServer::masked_input(uint32_t client) const {
  auto it = state_->masked.find(client);
  return it == state_->masked.end() ? nullptr : &it->second;
}

namespace {

Status Phase(int have, int want, const char* what) {
  if (have != want) return Status::InvalidArgument("secagg server: ", what, " in the wrong phase");
  return Status::Ok();
}

template <typename Set>
Status EnoughOrAbort(const Set& set, uint32_t threshold, const char* phase) {
  if (set.size() < threshold) {
    return Status::Aborted("secagg server: ", set.size(), " clients finished ", phase,
                           ", threshold ", threshold, "; the round is abandoned");
  }
  return Status::Ok();
}

}  // namespace

Status SecAggServer::OnAdvertiseKeys(std::span<const uint8_t> message) {
  State& s = *state_;
  MURMUR_RETURN_IF_ERROR(Phase(s.phase, 0, "advertised keys"));
  ByteReader in(message);
  MURMUR_ASSIGN_OR_RETURN(uint32_t id, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(Key cipher_pk, secagg::ReadKey(in));
  MURMUR_ASSIGN_OR_RETURN(Key mask_pk, secagg::ReadKey(in));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  if (id >= s.config->graph.size()) return Status::Corrupt("secagg server: client id ", id);
  if (s.keys.count(id)) return Status::InvalidArgument("secagg server: client ", id, " twice");
  s.keys[id] = {cipher_pk, mask_pk};
  return Status::Ok();
}

Result<std::map<uint32_t, Bytes>> SecAggServer::CloseAdvertiseKeys() {
  State& s = *state_;
  MURMUR_RETURN_IF_ERROR(Phase(s.phase, 0, "closing key advertisement"));
  s.phase = 1;
  MURMUR_RETURN_IF_ERROR(EnoughOrAbort(s.keys, s.config->threshold, "advertising keys"));
  std::map<uint32_t, Bytes> out;
  for (const auto& [u, unused] : s.keys) {
    ByteWriter list;
    std::vector<uint32_t> members{u};
    for (uint32_t v : s.config->graph.neighbours(u)) {
      if (s.keys.count(v)) members.push_back(v);
    }
    list.WriteU32(static_cast<uint32_t>(members.size()));
    for (uint32_t v : members) {
      list.WriteU32(v);
      secagg::WriteKey(list, s.keys[v].first);
      secagg::WriteKey(list, s.keys[v].second);
    }
    out[u] = std::move(list).Take();
  }
  return out;
}

Status SecAggServer::OnShareKeys(std::span<const uint8_t> message) {
  State& s = *state_;
  MURMUR_RETURN_IF_ERROR(Phase(s.phase, 1, "shares"));
  ByteReader in(message);
  MURMUR_ASSIGN_OR_RETURN(uint32_t from, in.ReadU32());
  if (!s.keys.count(from) || s.sharers.count(from)) {
    return Status::InvalidArgument("secagg server: shares from client ", from,
                                   " twice or without advertised keys");
  }
  const auto& nbrs = s.config->graph.neighbours(from);
  MURMUR_ASSIGN_OR_RETURN(uint32_t count,
                          secagg::ReadCount(in, static_cast<uint32_t>(nbrs.size()),
                                            4 + secagg::kBoxBytes, "shares"));
  std::vector<std::pair<uint32_t, Bytes>> boxes;
  std::set<uint32_t> seen;
  for (uint32_t i = 0; i < count; ++i) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t to, in.ReadU32());
    if (!s.config->graph.linked(from, to) || !s.keys.count(to) || !seen.insert(to).second) {
      return Status::Corrupt("secagg server: client ", from, " boxed a share for ", to);
    }
    Bytes box(secagg::kBoxBytes);
    for (uint8_t& b : box) {
      MURMUR_ASSIGN_OR_RETURN(b, in.ReadU8());
    }
    boxes.emplace_back(to, std::move(box));
  }
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (auto& [to, box] : boxes) s.inbox[to].emplace_back(from, std::move(box));
  s.sharers.insert(from);
  return Status::Ok();
}

Result<std::map<uint32_t, Bytes>> SecAggServer::CloseShareKeys() {
  State& s = *state_;
  MURMUR_RETURN_IF_ERROR(Phase(s.phase, 1, "closing shares"));
  s.phase = 2;
  MURMUR_RETURN_IF_ERROR(EnoughOrAbort(s.sharers, s.config->threshold, "sharing keys"));
  std::map<uint32_t, Bytes> out;
  for (uint32_t u : s.sharers) {
    ByteWriter w;
    std::vector<const std::pair<uint32_t, Bytes>*> mine;
    for (const auto& entry : s.inbox[u]) {
      if (s.sharers.count(entry.first)) mine.push_back(&entry);
    }
    w.WriteU32(static_cast<uint32_t>(mine.size()));
    for (const auto* entry : mine) {
      w.WriteU32(entry->first);
      w.WriteBytes(entry->second);
    }
    out[u] = std::move(w).Take();
  }
  return out;
}

Status SecAggServer::OnMaskedInput(std::span<const uint8_t> message) {
  State& s = *state_;
  MURMUR_RETURN_IF_ERROR(Phase(s.phase, 2, "masked input"));
  ByteReader in(message);
  MURMUR_ASSIGN_OR_RETURN(uint32_t from, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(uint32_t dim, in.ReadU32());
  if (!s.sharers.count(from) || s.masked.count(from)) {
    return Status::InvalidArgument("secagg server: masked input from client ", from,
                                   " twice or without shares");
  }
  const size_t want = MaskedInputBytes(*s.config) - 8;
  if (dim != s.config->dimension || in.remaining() != want) {
    return Status::Corrupt("secagg server: client ", from, " sent ", dim, " values in ",
                           in.remaining(), " bytes; dimension is ", s.config->dimension,
                           " at ", s.config->ring_bits, " bits (", want, " bytes)");
  }
  Result<std::vector<uint32_t>> y =
      secagg::UnpackBits(message.subspan(8), dim, s.config->ring_bits);
  if (!y.ok()) {
    return Status::Corrupt("secagg server: client ", from, "'s masked input: ",
                           y.status().message());
  }
  s.masked[from] = std::move(*y);
  return Status::Ok();
}

Result<std::map<uint32_t, Bytes>> SecAggServer::CloseMaskedInput() {
  State& s = *state_;
  MURMUR_RETURN_IF_ERROR(Phase(s.phase, 2, "closing masked inputs"));
  s.phase = 3;
  MURMUR_RETURN_IF_ERROR(EnoughOrAbort(s.masked, s.config->threshold, "masked input"));
  for (const auto& [u, unused] : s.masked) s.survivors.insert(u);
  // Each survivor learns only which of its masking-graph neighbours (and
  // itself) survived (Bell et al. 2020): O(degree) bytes, not O(n). That is
  // all it needs to pick which share of each neighbour's secrets to send.
  std::map<uint32_t, Bytes> out;
  for (uint32_t u : s.survivors) {
    std::vector<uint32_t> alive{u};
    for (uint32_t v : s.config->graph.neighbours(u)) {
      if (s.survivors.count(v)) alive.push_back(v);
    }
    std::sort(alive.begin(), alive.end());
    ByteWriter w(4 + 4 * alive.size());
    w.WriteU32(static_cast<uint32_t>(alive.size()));
    for (uint32_t v : alive) w.WriteU32(v);
    out[u] = std::move(w).Take();
  }
  return out;
}

Status SecAggServer::OnUnmask(std::span<const uint8_t> message) {
  State& s = *state_;
  MURMUR_RETURN_IF_ERROR(Phase(s.phase, 3, "unmasking shares"));
  ByteReader in(message);
  MURMUR_ASSIGN_OR_RETURN(uint32_t from, in.ReadU32());
  if (!s.survivors.count(from) || s.unmaskers.count(from)) {
    return Status::InvalidArgument("secagg server: unmasking shares from client ", from,
                                   " twice or not a survivor");
  }
  const uint32_t limit = static_cast<uint32_t>(s.config->graph.neighbours(from).size()) + 1;
  MURMUR_ASSIGN_OR_RETURN(uint32_t count, secagg::ReadCount(in, limit, 5 + secagg::kShareBytes,
                                                            "unmasking shares"));
  std::vector<std::pair<uint32_t, std::pair<uint8_t, ShamirShare>>> got;
  std::set<uint32_t> seen;
  for (uint32_t i = 0; i < count; ++i) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t owner, in.ReadU32());
    MURMUR_ASSIGN_OR_RETURN(uint8_t kind, in.ReadU8());
    MURMUR_ASSIGN_OR_RETURN(ShamirShare share, secagg::ReadShare(in));
    const bool survived = s.survivors.count(owner) > 0;
    const uint8_t want = static_cast<uint8_t>(survived ? secagg::ShareKind::kSelfMask
                                                       : secagg::ShareKind::kMaskKey);
    if ((owner != from && !s.config->graph.linked(from, owner)) || !s.sharers.count(owner) ||
        kind != want || share.x != from + 1 || !seen.insert(owner).second) {
      return Status::Corrupt("secagg server: client ", from, " sent a bad share of client ",
                             owner);
    }
    got.push_back({owner, {kind, share}});
  }
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (const auto& [owner, entry] : got) {
    (entry.first == static_cast<uint8_t>(secagg::ShareKind::kSelfMask) ? s.self_shares
                                                                      : s.key_shares)[owner]
        .push_back(entry.second);
  }
  s.unmaskers.insert(from);
  return Status::Ok();
}

Result<std::vector<double>> SecAggServer::Finish() {
  if (state_->config->input != SecAggInput::kFixedPoint) {
    return Status::InvalidArgument("secagg server: Finish decodes fixed point; a ring-input "
                                   "round ends with FinishRing");
  }
  MURMUR_ASSIGN_OR_RETURN(std::vector<uint32_t> sum, FinishRing());
  std::vector<double> out(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) out[i] = state_->config->fixed_point.Decode(sum[i]);
  return out;
}

Result<std::vector<uint32_t>> SecAggServer::FinishRing() {
  State& s = *state_;
  MURMUR_RETURN_IF_ERROR(Phase(s.phase, 3, "finishing"));
  s.phase = 4;
  const uint32_t t = s.config->threshold;
  const size_t d = s.config->dimension;
  std::vector<uint32_t> sum(d, 0);
  auto reconstruct = [&](std::map<uint32_t, std::vector<ShamirShare>>& pool,
                         uint32_t owner, const char* what) -> Result<Key> {
    auto& shares = pool[owner];
    if (shares.size() < t) {
      return Status::Aborted("secagg server: ", shares.size(), " shares of client ", owner,
                             "'s ", what, ", threshold ", t, "; the round is abandoned");
    }
    MURMUR_ASSIGN_OR_RETURN(Secret32 secret, ShamirReconstruct(shares, t));
    Key key;
    std::copy(secret.begin(), secret.end(), key.begin());
    return key;
  };
  for (const auto& [u, y] : s.masked) {
    MURMUR_ASSIGN_OR_RETURN(Key seed, reconstruct(s.self_shares, u, "self-mask seed"));
    const std::vector<uint32_t> mask = secagg::Prg(seed, d);
    for (size_t i = 0; i < d; ++i) sum[i] += y[i] - mask[i];
  }
  for (uint32_t v : s.sharers) {
    if (s.survivors.count(v)) continue;
    std::vector<uint32_t> affected;
    for (uint32_t u : s.config->graph.neighbours(v)) {
      if (s.survivors.count(u)) affected.push_back(u);
    }
    if (affected.empty()) continue;
    MURMUR_ASSIGN_OR_RETURN(Key mask_sk, reconstruct(s.key_shares, v, "mask key"));
    if (secagg::PublicKey(mask_sk) != s.keys[v].second) {
      return Status::Corrupt("secagg server: client ", v, "'s reconstructed mask key does not "
                             "match its advertised public key");
    }
    for (uint32_t u : affected) {
      MURMUR_ASSIGN_OR_RETURN(Key seed, secagg::Agree(mask_sk, v, s.keys[u].second, u,
                                                      Label::kMaskKey));
      const std::vector<uint32_t> mask = secagg::Prg(seed, d);
      // Undo what u applied for the pair (u, v).
      const bool u_added = secagg::AddsPairMask(u, v);
      for (size_t i = 0; i < d; ++i) sum[i] = u_added ? sum[i] - mask[i] : sum[i] + mask[i];
    }
  }
  const uint32_t ring = secagg::RingMask(s.config->ring_bits);
  for (uint32_t& v : sum) v &= ring;
  return sum;
}

}  // namespace murmur::privacy
