// Connection's same-host data path (connection.h, shm_link.h): whether a
// connection may take it, the offer and answer, the switch of each
// direction, and TCP's role after it.
#include <utility>

#include "runtime/connection.h"

namespace murmur::net {

using asio::ip::tcp;

bool Connection::ShmEligible() const {
  if (shm_budget_ == nullptr || shm_budget_->ring_bytes == 0) return false;
  asio::error_code ec1, ec2;
  const tcp::endpoint local = socket_.local_endpoint(ec1);
  const tcp::endpoint remote = socket_.remote_endpoint(ec2);
  return !ec1 && !ec2 && local.address().is_loopback() && remote.address().is_loopback();
}

ShmLink::OnReady Connection::ShmReadyCallback() {
  return [weak = weak_from_this()](const Status& status) {
    if (ConnectionPtr self = weak.lock()) self->OnShmReady(status);
  };
}

bool Connection::TakeShmSlot() {
  if (shm_budget_->in_use >= shm_budget_->max_links) return false;
  ++shm_budget_->in_use;
  holds_shm_slot_ = true;
  return true;
}

void Connection::ReleaseShmSlot() {
  if (!std::exchange(holds_shm_slot_, false)) return;
  --shm_budget_->in_use;
}

// The slot is taken when the dialer comes (an offer nobody takes holds
// no memory).
void Connection::OfferShm() {
  Result<std::shared_ptr<ShmLink>> link = ShmLink::Offer(
      socket_.get_executor(), session_id_, shm_budget_->ring_bytes, shm_budget_->setup_timeout,
      [weak = weak_from_this()] {
        ConnectionPtr self = weak.lock();
        return self != nullptr && !self->closed() && self->TakeShmSlot();
      },
      ShmReadyCallback());
  if (!link.ok()) {
    ++stats_.shm_failures;
    return;
  }
  shm_ = std::move(link).value();
  Enqueue(FrameType::kShmOffer, {}, 0);
}

void Connection::OnShmOffer() {
  if (role_ != Role::kDialer || shm_ != nullptr) {
    Close("unexpected_frame", "a shared-memory offer from a dialer, or a second one");
    return;
  }
  // Else it stays on TCP, and the offer lapses.
  if (control_only || half_closed_ || half_close_due_ || !ShmEligible() || !TakeShmSlot()) {
    return;
  }
  Result<std::shared_ptr<ShmLink>> link =
      ShmLink::Answer(socket_.get_executor(), session_id_, shm_budget_->ring_bytes,
                      shm_budget_->setup_timeout, ShmReadyCallback());
  if (!link.ok()) {
    ++stats_.shm_failures;
    ReleaseShmSlot();
    return;
  }
  shm_ = std::move(link).value();
}

// The peer's last frame on TCP. Its set-up ended before it sent this; ours
// ends first in the usual order (the acceptor's before the dialer's), and
// otherwise reading waits for it. The acceptor switches only in answer, so
// a dialer whose own set-up failed keeps the session on TCP both ways.
void Connection::OnShmSwitch() {
  if (shm_ == nullptr || shm_in_ || peer_switched_) {
    Close("unexpected_frame", "a switch to shared memory that was not set up");
    return;
  }
  if (!shm_->ready()) {
    peer_switched_ = true;
    return;
  }
  shm_in_ = true;
  if (role_ == Role::kAcceptor) {
    ++stats_.shm_links;  // the dialer's set-up ended too
    SwitchOut();
  }
}

void Connection::SwitchOut() {
  if (shm_out_ || switching_ || half_closed_ || half_close_due_) return;
  switch_due_ = true;
  WriteMore();
}

void Connection::OnShmReady(const Status& status) {
  if (closed()) return;
  if (!status.ok()) {
    ++stats_.shm_failures;
    shm_.reset();
    ReleaseShmSlot();
    if (peer_switched_) Close("bad_shm", "shared-memory set-up: " + status.message());
    return;
  }
  // An acceptor counts the link when the dialer's switch says its side of
  // the set-up ended as well (OnShmSwitch).
  if (role_ == Role::kDialer) {
    ++stats_.shm_links;
    SwitchOut();
  }
  if (std::exchange(peer_switched_, false)) {
    shm_in_ = true;
    if (role_ == Role::kAcceptor) {
      ++stats_.shm_links;
      SwitchOut();
    }
    ReadMore();
  }
}

// Once the frames come through the ring, TCP only says when the peer is
// gone: an orderly end lets the ring drain first, anything else on it is
// a violation.
void Connection::WatchTcpEnd() {
  if (watching_tcp_) return;
  watching_tcp_ = true;
  socket_.async_read_some(asio::buffer(tcp_probe_), [self = shared_from_this()](
                                                        const asio::error_code& ec, size_t n) {
    if (self->closed()) return;
    if (!ec && n > 0) {
      self->Close("unexpected_frame", "bytes on TCP after the switch to shared memory");
    } else if (ec == asio::error::eof) {
      self->shm_->PeerFinished();
    } else {
      self->Close("read_error", "read: " + ec.message());
    }
  });
}

}  // namespace murmur::net
