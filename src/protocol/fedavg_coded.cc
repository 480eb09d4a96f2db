// FedAvg's compressed traffic (fedavg_compression.h): the FedAvgServer and
// FedAvgClient members that only run when FedAvgOptions::compression is
// enabled, kept apart from the uncompressed protocol in fedavg.cc.
#include <algorithm>

#include "murmur/protocol/coded_message.h"
#include "murmur/protocol/fedavg.h"

namespace murmur {

// Compressed traffic (fedavg_compression.h). The server adds each
// decoded update to its exact global model, so sum_ accumulates
// w * (global + update) and FinishRound stays the same for both formats.

void FedAvgServer::SendCodedGlobal(Host& host, Round round) {
  const FedAvgCompression& c = options_.compression;
  ByteWriter frame(c.downlink->MaxEncodedSize(global_.size()));
  const CodecContext ctx{.seed = c.seed,
                         .sender = host.self(),
                         .step = round.value,
                         .privacy_rng = &host.privacy_rng()};
  // global_ is an average of finite decoded updates, hence finite.
  MURMUR_CHECK(c.downlink->Encode(global_, ctx, frame).ok());
  if (c.downlink_stages != nullptr) {
    c.downlink_stages->Count(host.metrics(), global_, ctx, frame.size(),
                             static_cast<int64_t>(selected_.size()));
  }
  for (PeerId client : selected_) {
    auto it = decoders_.find(client);
    ByteWriter out(kCodedMessageHeaderBytes + frame.size());
    WriteCodedMessageHeader(
        {.kind = CodedMessageKind::kFedAvgCodedGlobal,
         .round = round,
         .sequence = it == decoders_.end() ? 0 : it->second.applied()},
        out);
    out.WriteBytes(frame.bytes());
    host.Send(client, std::move(out).Take());
  }
}

void FedAvgServer::OnCodedUpdate(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  Result<CodedMessage> message = ReadCodedMessage(bytes, CodedMessageKind::kFedAvgCodedUpdate);
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const CodedMessageHeader& h = message->header;
  if (std::find(clients_.begin(), clients_.end(), from) == clients_.end()) {
    host.ReportBadPeer(from, Status::InvalidArgument("FedAvg: update from non-client peer ", from));
    return;
  }
  const FedAvgCompression& c = options_.compression;
  auto it = decoders_.find(from);
  if (it == decoders_.end()) {
    it = decoders_.try_emplace(from, *c.uplink, global_.size(), c.error_feedback).first;
  }
  update_.resize(global_.size());
  const CodecContext ctx{.seed = c.seed, .sender = from, .step = h.round.value};
  // Late frames still go through the decoder, which keeps an error-feedback
  // estimate in step with the client's.
  Result<bool> usable = it->second.Receive(message->payload, h.sequence, ctx, update_);
  if (!usable.ok()) {
    host.ReportBadPeer(from, usable.status());
    return;
  }
  if (done_ || h.round.value != round_ + 1) {
    host.metrics().Count("fedavg.late_replies", 1);
    return;
  }
  if (!selected_.count(from) || replied_.count(from)) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "FedAvg: unsolicited or duplicate update from peer ",
                                 from, " for round ", h.round));
    return;
  }
  if (h.weight == 0) {
    host.ReportBadPeer(from, Status::Corrupt("FedAvg: update with zero samples"));
    return;
  }
  replied_.insert(from);
  down_.erase(from);
  if (!*usable) {
    // Out of sequence: this round goes without it; the ack resets the client.
    host.metrics().Count("fedavg.uplink_resets", 1);
  } else {
    // The client's model: the global model it started from plus its update.
    std::vector<float> model(global_.size());
    for (size_t i = 0; i < model.size(); ++i) model[i] = global_[i] + update_[i];
    AddReply(std::move(model), static_cast<double>(h.weight));
  }
  if (AllAwaitedReplied()) FinishRound(host);
}

void FedAvgClient::OnCodedGlobal(Host& host, std::span<const uint8_t> bytes) {
  Result<CodedMessage> message = ReadCodedMessage(bytes, CodedMessageKind::kFedAvgCodedGlobal);
  if (!message.ok()) {
    host.ReportBadPeer(server_, message.status());
    return;
  }
  const FedAvgCompression& c = options_.compression;
  std::vector<float> global(learner_.params().size());
  const CodecContext ctx{.seed = c.seed, .sender = server_, .step = message->header.round.value};
  if (Status s = c.downlink->Decode(message->payload, ctx, global); !s.ok()) {
    host.ReportBadPeer(server_, s);
    return;
  }
  if (!uplink_) {
    uplink_.emplace(*c.uplink, global.size(), c.error_feedback, c.econtrol_eta);
  }
  uplink_->OnServerAck(message->header.sequence);
  if (training_) {
    pending_global_ = std::move(global);
    pending_round_ = message->header.round;
    return;
  }
  Train(host, message->header.round, global);
}

void FedAvgClient::SendCodedUpdate(Host& host, Round round) {
  std::span<const float> x = learner_.params();
  std::vector<float> update(x.size());
  for (size_t i = 0; i < x.size(); ++i) update[i] = x[i] - start_[i];
  const FedAvgCompression& c = options_.compression;
  ByteWriter frame(c.uplink->MaxEncodedSize(update.size()));
  const CodecContext ctx{.seed = c.seed,
                         .sender = host.self(),
                         .step = round.value,
                         .privacy_rng = &host.privacy_rng()};
  Result<uint32_t> sequence = uplink_->Encode(update, ctx, frame);
  if (!sequence.ok()) {
    // A diverged (non-finite) model: nothing sensible to send.
    host.metrics().Count("fedavg.encode_failures", 1);
    return;
  }
  if (c.uplink_stages != nullptr) {
    c.uplink_stages->Count(host.metrics(), uplink_->codec_input(), ctx, frame.size(), 1);
  }
  ByteWriter out(kCodedMessageHeaderBytes + frame.size());
  WriteCodedMessageHeader({.kind = CodedMessageKind::kFedAvgCodedUpdate,
                           .round = round,
                           .weight = static_cast<uint64_t>(learner_.shard_size()),
                           .sequence = *sequence},
                          out);
  out.WriteBytes(frame.bytes());
  host.Send(server_, std::move(out).Take());
}

}  // namespace murmur
