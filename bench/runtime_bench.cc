// Throughput of one authenticated, encrypted NetHost link on loopback
// (X25519/Ed25519 handshake, XChaCha20-Poly1305 frames) against a plain TCP
// socket pair moving the same bytes, in the same run. Each iteration sends
// `count` messages of `bytes` one way; handshake and connection setup are
// inside the timing (they take about a millisecond).
//   build/runtime_bench --benchmark_filter=/67108864   (the 64 MiB rows)
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "murmur/runtime/net_host.h"

namespace {

using murmur::Duration;
using murmur::Host;
using murmur::PeerId;

constexpr int kCount = 8;

class NullSink final : public murmur::MetricsSink {
 public:
  void ReportModel(murmur::Round, std::span<const float>) override {}
  void ReportTrainLoss(murmur::Round, double) override {}
  void Count(std::string_view, int64_t) override {}
};

class SenderNode final : public murmur::Node {
 public:
  explicit SenderNode(size_t bytes) : message_(bytes, 0x5a) {}
  void OnStart(Host& host) override {
    for (int i = 0; i < kCount; ++i) host.Send(PeerId(1), message_);
    sent_ = true;
  }
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host&, murmur::TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
  bool sent_ = false;

 private:
  std::vector<uint8_t> message_;
};

class ReceiverNode final : public murmur::Node {
 public:
  void OnStart(Host&) override {}
  void OnMessage(Host&, PeerId, std::span<const uint8_t> m) override {
    ++received_;
    bytes_ += m.size();
  }
  void OnTimer(Host&, murmur::TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
  int received_ = 0;
  size_t bytes_ = 0;
};

murmur::net::NetOptions Options(uint32_t self) {
  murmur::net::NetOptions o;
  o.self = PeerId(self);
  o.num_slots = 2;
  o.listen = "127.0.0.1:0";
  o.shutdown_timeout = Duration::Seconds(60);
  o.peer_timeout = Duration::Seconds(60);
  o.max_message_bytes = size_t{1} << 30;
  o.send_queue_bytes = size_t{4} << 30;
  return o;
}

void BM_EncryptedLink(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  murmur::net::NetworkKey psk{};
  psk.fill(3);
  for (auto _ : state) {
    NullSink sink_a, sink_b;
    murmur::net::NetSecurity sa{.identity = murmur::net::Identity::Generate(), .network_key = psk};
    murmur::net::NetSecurity sb{.identity = murmur::net::Identity::Generate(), .network_key = psk};
    auto b = murmur::net::NetHost::Create(Options(1), std::move(sb), sink_b);
    auto oa = Options(0);
    oa.bootstrap = {(*b)->listen_address()};
    auto a = murmur::net::NetHost::Create(oa, std::move(sa), sink_a);
    SenderNode sender(bytes);
    ReceiverNode receiver;
    std::thread tb([&] { (void)(*b)->Run(receiver, [&] { return receiver.received_ == kCount; }); });
    (void)(*a)->Run(sender, [&] { return sender.sent_; });
    tb.join();
    if (receiver.bytes_ != bytes * kCount) state.SkipWithError("lost messages");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kCount *
                          static_cast<int64_t>(bytes));
}

void BM_PlainTcp(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> message(bytes, 0x5a);
  for (auto _ : state) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener, 1);
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    size_t received = 0;
    std::thread reader([&] {
      const int fd = ::accept(listener, nullptr, nullptr);
      std::vector<uint8_t> buf(bytes);  // the receiver keeps each message, as NetHost does
      for (int m = 0; m < kCount; ++m) {
        size_t have = 0;
        while (have < bytes) {
          const ssize_t n = ::read(fd, buf.data() + have, bytes - have);
          if (n <= 0) break;
          have += static_cast<size_t>(n);
        }
        received += have;
      }
      ::close(fd);
    });
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    for (int m = 0; m < kCount; ++m) {
      size_t done = 0;
      while (done < bytes) {
        const ssize_t n = ::write(fd, message.data() + done, bytes - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
    }
    ::close(fd);
    reader.join();
    ::close(listener);
    if (received != bytes * kCount) state.SkipWithError("short transfer");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kCount *
                          static_cast<int64_t>(bytes));
}

BENCHMARK(BM_PlainTcp)->Arg(1 << 20)->Arg(64 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EncryptedLink)->Arg(1 << 20)->Arg(64 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
