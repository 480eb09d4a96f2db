// Protocol code draws the randomness a DP guarantee rests on from
// Host::privacy_rng (secret in the runtime), never from Host::rng (the
// seeded protocol stream every peer of a run can regenerate). A FakeHost
// with a separate privacy stream tells the two apart.
#include <gtest/gtest.h>

#include <vector>

#include "murmur/protocol/dp_release.h"
#include "testing/fake_host.h"

namespace murmur {
namespace {

TEST(PrivacyStream, DpReleaseNoiseComesFromThePrivacyStreamNotTheProtocolStream) {
  for (uint64_t seed : {1, 2, 3}) {
    testing::FakeHost host(PeerId(0));
    const Rng privacy(seed, PeerId(7), RngPurpose::kTest);
    host.UseSeparatePrivacyStream(privacy);
    const privacy::DpConfig config{
        .mode = privacy::DpMode::kLocal, .clip = 1.0, .noise_multiplier = 0.5};
    const std::vector<float> initial(4, 0.0f);
    DpRelease release(config, initial);
    const std::vector<float> model = {0.3f, -0.2f, 0.1f, 0.0f};  // norm < clip: not clipped
    const std::span<const float> sent = release.Release(model, host);
    Rng replay = privacy;
    ASSERT_EQ(sent.size(), model.size());
    for (size_t i = 0; i < model.size(); ++i) {
      EXPECT_EQ(sent[i], static_cast<float>(model[i] + 0.5 * replay.Normal())) << seed << " " << i;
    }
    EXPECT_EQ(host.rng().position(), 0u) << "the protocol stream must not carry DP noise";
    EXPECT_EQ(host.privacy_rng().position(), replay.position());
  }
}

}  // namespace
}  // namespace murmur
