#include "murmur/core/suggest.h"

#include <gtest/gtest.h>

namespace murmur {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsSubstitutionsAndSwaps) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("topolgy", "topology"), 1u);   // insertion
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);     // 2 substitutions + 1 insertion
  EXPECT_EQ(EditDistance("rnu", "run"), 1u);            // one adjacent swap
  EXPECT_EQ(EditDistance("trian.lr", "train.lr"), 1u);
  EXPECT_EQ(EditDistance("ca", "abc"), 3u);  // OSA: no edit of a swapped pair
}

TEST(ClosestMatch, SuggestsOnlyLikelyTypos) {
  const std::vector<std::string> known = {"protocol.topology", "protocol.rounds", "train.lr"};
  EXPECT_EQ(ClosestMatch("protocol.topolgy", known), "protocol.topology");
  EXPECT_EQ(ClosestMatch("protocol.round", known), "protocol.rounds");
  EXPECT_EQ(ClosestMatch("protocol.zzzzzzzz", known), "");
  EXPECT_EQ(ClosestMatch("train.lr", known), "");  // already known
  // Words up to 4 characters allow one edit.
  const std::vector<std::string> commands = {"run", "report", "sweep", "peer", "id"};
  EXPECT_EQ(ClosestMatch("rnu", commands), "run");
  EXPECT_EQ(ClosestMatch("pear", commands), "peer");
  EXPECT_EQ(ClosestMatch("xyz", commands), "");
  EXPECT_EQ(DidYouMean("swep", commands), "; did you mean 'sweep'?");
  EXPECT_EQ(DidYouMean("xyz", commands), "");
}

}  // namespace
}  // namespace murmur
