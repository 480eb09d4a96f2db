// The all-reduce pipeline window (CollectiveOptions::window_chunks,
// ring_op.h): results are bit-identical whatever the window, float32 and
// quantized with error feedback, over seeds, group sizes, lengths and
// delivery orders; the first step's chunks in flight over the whole ring
// never exceed members x window (each rank sends at most `window` ahead of
// what it received); a crash mid-operation still restores every buffer.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "group_net.h"
#include "murmur/collective/collective_message.h"

namespace murmur::collective {
namespace {

using test::GroupNet;
using test::Outcome;
using test::Record;

struct RunResult {
  std::vector<std::vector<float>> buffers;
  std::vector<std::vector<float>> residuals;
  size_t max_first_step_in_flight = 0;
};

bool IsFirstStepChunk(std::span<const uint8_t> bytes) {
  ByteReader in(bytes);
  Result<Header> header = ReadHeader(in);
  if (!header.ok() || (header->kind != MessageKind::kCollectiveChunk &&
                       header->kind != MessageKind::kCollectiveQChunk)) {
    return false;
  }
  Result<ChunkView> chunk = header->kind == MessageKind::kCollectiveChunk
                                ? ReadChunk(bytes, size_t{1} << 20)
                                : ReadQChunk(bytes, size_t{1} << 20);
  return chunk.ok() && chunk->step == 0;
}

// One all-reduce of `inputs` over a GroupNet; bits 0 or a quantized width
// with error feedback (residuals start at `residual0`).
RunResult RunAllReduce(const std::vector<std::vector<float>>& inputs, size_t chunk_floats,
                       size_t window, uint8_t bits, float residual0, uint64_t seed) {
  const int n = static_cast<int>(inputs.size());
  CollectiveOptions o = test::Options(chunk_floats);
  o.window_chunks = window;
  GroupNet net(n, o, seed);
  RunResult r;
  r.buffers = inputs;
  r.residuals.assign(n, std::vector<float>(bits != 0 ? inputs[0].size() : 0, residual0));
  net.after_delivery = [&] {
    r.max_first_step_in_flight =
        std::max(r.max_first_step_in_flight, net.CountInFlight(IsFirstStepChunk));
  };
  std::vector<Outcome> outs(n);
  for (int i = 0; i < n; ++i) {
    net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), r.buffers[i], ReduceOp::kSum,
                                   Quantization{bits, r.residuals[i]}, Record(outs[i]));
  }
  EXPECT_TRUE(net.Run([&] {
    return std::all_of(outs.begin(), outs.end(), [](const Outcome& x) { return x.called; });
  }, 0)) << "seed " << seed;
  for (int i = 0; i < n; ++i) EXPECT_TRUE(outs[i].status.ok()) << outs[i].status.ToString();
  return r;
}

std::vector<std::vector<float>> RandomInputs(std::mt19937_64& rng, int n, size_t len) {
  std::uniform_real_distribution<float> u(-3, 3);
  std::vector<std::vector<float>> in(n, std::vector<float>(len));
  for (auto& v : in) {
    for (float& x : v) x = u(rng);
  }
  return in;
}

// Non-integer inputs: any change in the order of the additions of one
// element would show in the low bits.
TEST(PipelineWindow, ResultsAreBitIdenticalWhateverTheWindow) {
  for (uint64_t seed = 0; seed < 60; ++seed) {
    std::mt19937_64 rng(seed);
    const int n = 2 + static_cast<int>(rng() % 5);
    const size_t len = rng() % 300;
    const size_t chunk = 1 + rng() % 4;
    const auto inputs = RandomInputs(rng, n, len);
    const RunResult unwindowed = RunAllReduce(inputs, chunk, 0, 0, 0, seed);
    for (size_t window : {size_t{1}, size_t{2}, size_t{3}, size_t{7}}) {
      const RunResult windowed = RunAllReduce(inputs, chunk, window, 0, 0, seed + 1000);
      ASSERT_EQ(windowed.buffers, unwindowed.buffers) << "seed " << seed << " window " << window;
    }
  }
}

TEST(PipelineWindow, QuantizedResultsAndResidualsAreBitIdenticalWhateverTheWindow) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    std::mt19937_64 rng(seed);
    const int n = 2 + static_cast<int>(rng() % 4);
    const size_t len = 1 + rng() % 200;
    const uint8_t bits = rng() % 2 == 0 ? 4 : 8;
    const auto inputs = RandomInputs(rng, n, len);
    const RunResult unwindowed = RunAllReduce(inputs, 5, 0, bits, 0.125f, seed);
    for (size_t window : {size_t{1}, size_t{4}}) {
      const RunResult windowed = RunAllReduce(inputs, 5, window, bits, 0.125f, seed + 7);
      ASSERT_EQ(windowed.buffers, unwindowed.buffers) << "seed " << seed << " window " << window;
      ASSERT_EQ(windowed.residuals, unwindowed.residuals) << "seed " << seed;
    }
  }
}

// Each rank's first-step chunks sent minus those it received is at most
// the window, so over the ring at most n x window are in flight at once;
// without the window a whole segment per link is.
TEST(PipelineWindow, FirstStepChunksInFlightStayWithinMembersTimesWindow) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    std::mt19937_64 rng(seed);
    const int n = 2 + static_cast<int>(rng() % 5);
    const size_t len = 30 * static_cast<size_t>(n) + rng() % 30;  // >= 30 chunks a segment
    const auto inputs = RandomInputs(rng, n, len);
    for (size_t window : {size_t{1}, size_t{2}, size_t{5}}) {
      const RunResult r = RunAllReduce(inputs, 1, window, 0, 0, seed);
      EXPECT_LE(r.max_first_step_in_flight, static_cast<size_t>(n) * window)
          << "seed " << seed << " n " << n << " window " << window;
      EXPECT_GE(r.max_first_step_in_flight, window) << "seed " << seed;
    }
    const RunResult unwindowed = RunAllReduce(inputs, 1, 0, 0, 0, seed);
    EXPECT_GE(unwindowed.max_first_step_in_flight, size_t{30})
        << "seed " << seed;
  }
}

// A crash at any delivery of a windowed all-reduce: every survivor's
// callback reports kPeerLost with its input restored exactly, or every
// survivor completes with the exact sum.
TEST(PipelineWindow, CrashAtAnyDeliveryRestoresOrCompletesEverywhere) {
  const int n = 3;
  const size_t len = 40;
  std::vector<std::vector<float>> inputs(n, std::vector<float>(len));
  std::vector<float> sum(len, 0);
  for (int i = 0; i < n; ++i) {
    for (size_t j = 0; j < len; ++j) {
      inputs[i][j] = static_cast<float>(10 * i + j);
      sum[j] += inputs[i][j];
    }
  }
  for (uint64_t at = 0; at < 150; ++at) {
    CollectiveOptions o = test::Options(2);
    o.window_chunks = 1;
    GroupNet net(n, o, at);
    net.CrashBefore(PeerId(at % n), at, /*notify_down=*/true);
    auto buffers = inputs;
    std::vector<Outcome> outs(n);
    for (int i = 0; i < n; ++i) {
      net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), buffers[i], ReduceOp::kSum,
                                     Record(outs[i]));
    }
    const std::vector<PeerId> alive_at_end = [&] {
      net.Run([&] {
        for (PeerId p : net.Alive()) {
          if (!outs[p.value].called) return false;
        }
        return true;
      });
      return net.Alive();
    }();
    bool any_ok = false;
    bool any_lost = false;
    for (PeerId p : alive_at_end) {
      ASSERT_TRUE(outs[p.value].called) << "crash at " << at << " peer " << p;
      if (outs[p.value].status.ok()) {
        any_ok = true;
        EXPECT_EQ(buffers[p.value], sum) << "crash at " << at;
      } else {
        any_lost = true;
        EXPECT_EQ(outs[p.value].status.code(), StatusCode::kPeerLost);
        EXPECT_EQ(buffers[p.value], inputs[p.value]) << "crash at " << at;
      }
    }
    EXPECT_FALSE(any_ok && any_lost) << "survivors disagree, crash at " << at;
  }
}

}  // namespace
}  // namespace murmur::collective
