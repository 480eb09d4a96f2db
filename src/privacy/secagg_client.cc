// The client's four rounds of SecAgg / SecAgg+ (privacy/secagg.h).
#include <algorithm>
#include <map>

#include "privacy/secagg_internal.h"

namespace murmur::privacy {

using secagg::Key;
using secagg::Label;

struct SecAggClient::State {
  const SecAggConfig* config;
  uint32_t id;
  int phase = 0;
  Key cipher_sk, cipher_pk, mask_sk, mask_pk, self_seed, shamir_seed;
  std::map<uint32_t, std::pair<Key, Key>> keys;  // neighbour -> (cipher pk, mask pk)
  // Holder's shares of each owner's (mask key, self-mask seed), own included.
  std::map<uint32_t, std::pair<ShamirShare, ShamirShare>> shares;
};

SecAggClient::SecAggClient(const SecAggConfig* config, uint32_t id, const Secret32& entropy)
    : state_(std::make_unique<State>()) {
  MURMUR_CHECK(config->Validate().ok() && id < config->graph.size());
  secagg::InitSodium();
  State& s = *state_;
  s.config = config;
  s.id = id;
  s.cipher_sk = secagg::Derive(entropy, Label::kCipherKey);
  s.mask_sk = secagg::Derive(entropy, Label::kMaskKey);
  s.self_seed = secagg::Derive(entropy, Label::kSelfMask);
  s.shamir_seed = secagg::Derive(entropy, Label::kShamir);
  s.cipher_pk = secagg::PublicKey(s.cipher_sk);
  s.mask_pk = secagg::PublicKey(s.mask_sk);
}

SecAggClient::~SecAggClient() = default;

uint32_t SecAggClient::id() const { return state_->id; }

Bytes SecAggClient::AdvertiseKeys() {
  State& s = *state_;
  MURMUR_CHECK(s.phase == 0);
  s.phase = 1;
  ByteWriter out;
  out.WriteU32(s.id);
  secagg::WriteKey(out, s.cipher_pk);
  secagg::WriteKey(out, s.mask_pk);
  return std::move(out).Take();
}

Result<Bytes> SecAggClient::ShareKeys(std::span<const uint8_t> key_list) {
  State& s = *state_;
  if (s.phase != 1) return Status::Internal("secagg client ", s.id, ": ShareKeys out of order");
  s.phase = 2;
  const MaskingGraph& graph = s.config->graph;
  ByteReader in(key_list);
  MURMUR_ASSIGN_OR_RETURN(uint32_t count,
                          secagg::ReadCount(in, graph.size(), 4 + 64, "key list"));
  for (uint32_t i = 0; i < count; ++i) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t v, in.ReadU32());
    MURMUR_ASSIGN_OR_RETURN(Key cipher_pk, secagg::ReadKey(in));
    MURMUR_ASSIGN_OR_RETURN(Key mask_pk, secagg::ReadKey(in));
    if (v == s.id) continue;
    if (v >= graph.size() || !graph.linked(s.id, v) || s.keys.count(v)) {
      return Status::Corrupt("secagg client ", s.id, ": key list names client ", v,
                             " twice or outside its neighbours");
    }
    s.keys[v] = {cipher_pk, mask_pk};
  }
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  const uint32_t t = s.config->threshold;
  std::vector<uint32_t> holders{s.id};
  for (const auto& [v, unused] : s.keys) holders.push_back(v);
  std::sort(holders.begin(), holders.end());
  if (holders.size() < t) {
    return Status::Aborted("secagg client ", s.id, ": ", holders.size(),
                           " share holders left, threshold ", t);
  }
  const size_t per_secret = (t - 1) * size_t{kShamirChunks};
  const std::vector<uint64_t> coeffs = secagg::FieldWords(s.shamir_seed, 2 * per_secret);
  Secret32 mask_sk, self_seed;
  std::copy(s.mask_sk.begin(), s.mask_sk.end(), mask_sk.begin());
  std::copy(s.self_seed.begin(), s.self_seed.end(), self_seed.begin());
  const auto sk_shares = ShamirSplit(mask_sk, t, holders, std::span(coeffs).first(per_secret));
  const auto b_shares = ShamirSplit(self_seed, t, holders, std::span(coeffs).last(per_secret));
  ByteWriter out;
  out.WriteU32(s.id);
  out.WriteU32(static_cast<uint32_t>(holders.size() - 1));
  for (size_t h = 0; h < holders.size(); ++h) {
    const uint32_t v = holders[h];
    if (v == s.id) {
      s.shares[v] = {sk_shares[h], b_shares[h]};
      continue;
    }
    ByteWriter plain;
    plain.WriteU32(s.id);
    plain.WriteU32(v);
    secagg::WriteShare(plain, sk_shares[h]);
    secagg::WriteShare(plain, b_shares[h]);
    MURMUR_ASSIGN_OR_RETURN(Key box_key, secagg::Agree(s.cipher_sk, s.id, s.keys[v].first, v,
                                                       Label::kCipherKey));
    out.WriteU32(v);
    out.WriteBytes(secagg::Seal(box_key, s.id, v, plain.bytes()));
  }
  return std::move(out).Take();
}

Result<Bytes> SecAggClient::MaskedInput(std::span<const uint8_t> forwarded,
                                        std::span<const float> input) {
  const SecAggConfig& config = *state_->config;
  MURMUR_CHECK(config.input == SecAggInput::kFixedPoint && input.size() == config.dimension);
  std::vector<uint32_t> encoded(input.size());
  for (size_t i = 0; i < input.size(); ++i) encoded[i] = config.fixed_point.Encode(input[i]);
  return Mask(forwarded, std::move(encoded));
}

Result<Bytes> SecAggClient::MaskedRingInput(std::span<const uint8_t> forwarded,
                                            std::span<const uint32_t> input) {
  const SecAggConfig& config = *state_->config;
  MURMUR_CHECK(config.input == SecAggInput::kRing && input.size() == config.dimension);
  const uint32_t ring = secagg::RingMask(config.ring_bits);
  for (size_t i = 0; i < input.size(); ++i) {
    if ((input[i] & ~ring) != 0) {
      return Status::InvalidArgument("secagg client ", state_->id, ": input ", input[i],
                                     " at ", i, " is outside Z_2^", config.ring_bits);
    }
  }
  return Mask(forwarded, std::vector<uint32_t>(input.begin(), input.end()));
}

Result<Bytes> SecAggClient::Mask(std::span<const uint8_t> forwarded, std::vector<uint32_t> y) {
  State& s = *state_;
  if (s.phase != 2) return Status::Internal("secagg client ", s.id, ": MaskedInput out of order");
  s.phase = 3;
  ByteReader in(forwarded);
  MURMUR_ASSIGN_OR_RETURN(uint32_t count, secagg::ReadCount(in, s.keys.size(),
                                                            4 + secagg::kBoxBytes, "shares"));
  for (uint32_t i = 0; i < count; ++i) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t v, in.ReadU32());
    auto it = s.keys.find(v);
    if (it == s.keys.end() || s.shares.count(v)) {
      return Status::Corrupt("secagg client ", s.id, ": shares from client ", v,
                             " twice or not a neighbour");
    }
    Bytes box(secagg::kBoxBytes);
    for (uint8_t& b : box) {
      MURMUR_ASSIGN_OR_RETURN(b, in.ReadU8());
    }
    MURMUR_ASSIGN_OR_RETURN(Key box_key, secagg::Agree(s.cipher_sk, s.id, it->second.first, v,
                                                       Label::kCipherKey));
    MURMUR_ASSIGN_OR_RETURN(Bytes plain, secagg::Open(box_key, v, s.id, box));
    ByteReader p(plain);
    MURMUR_ASSIGN_OR_RETURN(uint32_t from, p.ReadU32());
    MURMUR_ASSIGN_OR_RETURN(uint32_t to, p.ReadU32());
    MURMUR_ASSIGN_OR_RETURN(ShamirShare sk_share, secagg::ReadShare(p));
    MURMUR_ASSIGN_OR_RETURN(ShamirShare b_share, secagg::ReadShare(p));
    if (from != v || to != s.id || sk_share.x != s.id + 1 || b_share.x != s.id + 1) {
      return Status::Corrupt("secagg client ", s.id, ": box from ", v, " is addressed wrongly");
    }
    s.shares[v] = {sk_share, b_share};
  }
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  if (s.shares.size() < s.config->threshold) {
    return Status::Aborted("secagg client ", s.id, ": shares from ", s.shares.size(),
                           " clients, threshold ", s.config->threshold);
  }
  // Arithmetic mod 2^32, reduced to the ring at the end: the low
  // ring_bits bits of a sum depend only on those of its terms, and the low
  // bits of a ChaCha20 word are uniform, so the masks are uniform in the
  // ring and cancel there.
  const size_t d = s.config->dimension;
  const std::vector<uint32_t> self_mask = secagg::Prg(s.self_seed, d);
  for (size_t i = 0; i < d; ++i) y[i] += self_mask[i];
  for (const auto& [v, unused] : s.shares) {
    if (v == s.id) continue;
    MURMUR_ASSIGN_OR_RETURN(Key seed, secagg::Agree(s.mask_sk, s.id, s.keys[v].second, v,
                                                    Label::kMaskKey));
    const std::vector<uint32_t> mask = secagg::Prg(seed, d);
    const bool add = secagg::AddsPairMask(s.id, v);
    for (size_t i = 0; i < d; ++i) y[i] = add ? y[i] + mask[i] : y[i] - mask[i];
  }
  const uint32_t ring = secagg::RingMask(s.config->ring_bits);
  for (uint32_t& v : y) v &= ring;
  ByteWriter out(MaskedInputBytes(*s.config));
  out.WriteU32(s.id);
  out.WriteU32(static_cast<uint32_t>(d));
  secagg::PackBits(y, s.config->ring_bits, out);
  return std::move(out).Take();
}

Result<Bytes> SecAggClient::Unmask(std::span<const uint8_t> survivors) {
  State& s = *state_;
  if (s.phase != 3) return Status::Internal("secagg client ", s.id, ": Unmask out of order");
  s.phase = 4;
  // The survivors among this client's neighbours and itself (SecAgg+ sends
  // no more; for the complete graph that is everyone): at most degree + 1.
  const MaskingGraph& graph = s.config->graph;
  const auto limit = static_cast<uint32_t>(graph.neighbours(s.id).size()) + 1;
  ByteReader in(survivors);
  MURMUR_ASSIGN_OR_RETURN(uint32_t count, secagg::ReadCount(in, limit, 4, "survivors"));
  std::vector<uint32_t> alive(count);
  for (uint32_t i = 0; i < count; ++i) {
    MURMUR_ASSIGN_OR_RETURN(alive[i], in.ReadU32());
    if (i > 0 && alive[i] <= alive[i - 1]) {
      return Status::Corrupt("secagg client ", s.id, ": survivor list not strictly increasing");
    }
    if (alive[i] != s.id && (alive[i] >= graph.size() || !graph.linked(s.id, alive[i]))) {
      return Status::Corrupt("secagg client ", s.id, ": survivor list names client ", alive[i],
                             ", not a neighbour");
    }
  }
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  // Fewer than threshold survivors around this client: the server cannot
  // reconstruct its self-mask seed, so the round cannot finish.
  if (count < s.config->threshold || !std::binary_search(alive.begin(), alive.end(), s.id)) {
    return Status::Aborted("secagg client ", s.id, ": ", count,
                           " survivors among its neighbours (threshold ", s.config->threshold,
                           ") or not among them");
  }
  ByteWriter out;
  out.WriteU32(s.id);
  out.WriteU32(static_cast<uint32_t>(s.shares.size()));
  for (const auto& [v, pair] : s.shares) {
    // A survivor's self-mask seed, or a dropped client's mask key: never both
    // for one client, or the server could unmask that client's input.
    const bool survived = std::binary_search(alive.begin(), alive.end(), v);
    out.WriteU32(v);
    out.WriteU8(static_cast<uint8_t>(survived ? secagg::ShareKind::kSelfMask
                                              : secagg::ShareKind::kMaskKey));
    secagg::WriteShare(out, survived ? pair.second : pair.first);
  }
  return std::move(out).Take();
}

}  // namespace murmur::privacy
