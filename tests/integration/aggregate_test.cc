// `murmur aggregate` as a user runs it: .npy files in, the aggregate out,
// checked against the hand-computed vectors of tests/unit/robust/rules_test.cc.
// Every murmur process pays LibTorch's load time, so each case here checks
// the CLI's plumbing once; the .npy parser's and the option parser's edge
// cases are unit tests (tests/unit/core/npy_test.cc, tests/unit/tools/).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "testing/cli_runner.h"

namespace {

using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::FloatNear;
using ::testing::HasSubstr;

using Outcome = murmur::testing::CliOutcome;
using murmur::testing::RunShell;
using murmur::testing::Stderr;

// stdout only by default (stderr goes to the test log).
Outcome Murmur(const std::string& args, Stderr stderr_to = Stderr::kApart) {
  return murmur::testing::RunMurmur(args, stderr_to);
}

class MurmurAggregate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = murmur::testing::FreshTempDir("dir");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes a .npy file byte by byte as NumPy 1.x does (version 1.0, header
  // padded to 64 bytes), with the given header dict and raw data.
  std::string WriteNpy(const std::string& name, const std::string& dict,
                       const std::string& data, int major = 1) {
    std::string header = dict;
    const size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += static_cast<char>(major);
    bytes += '\0';
    for (size_t i = 0; i < prefix - 8; ++i) bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
    bytes += header + data;
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::string WriteVector(const std::string& name, const std::vector<float>& v, int major = 1) {
    return WriteNpy(name,
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                        std::to_string(v.size()) + ",), }",
                    std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4), major);
  }

  // Writes the vectors as x0.npy, x1.npy, ... and returns their paths.
  std::string WriteAll(const std::vector<std::vector<float>>& vectors) {
    std::string paths;
    for (size_t i = 0; i < vectors.size(); ++i) {
      paths += " " + WriteVector("x" + std::to_string(i) + ".npy", vectors[i]);
    }
    return paths;
  }

  static std::vector<float> Values(const Outcome& o) {
    std::vector<float> values;
    std::istringstream in(o.output);
    float v;
    while (in >> v) values.push_back(v);
    return values;
  }

  std::string dir_;
};

// Five vectors of dimension 3; x4 is the outlier (rules_test.cc's Five()).
const std::vector<std::vector<float>> kFive = {
    {1, 0, 2}, {2, 1, 4}, {3, 2, 7}, {4, 9, 8}, {100, -50, 0}};
// Krum's example (rules_test.cc's KrumSet()): scores 3, 6, 2, 3, 258.
const std::vector<std::vector<float>> kKrum = {{0, 0}, {2, 0}, {0, 1}, {1, 1}, {9, 9}};

TEST_F(MurmurAggregate, CoordinateMedianTakesTheMiddleValues) {
  Outcome o = Murmur("aggregate --rule median" + WriteAll(kFive));
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_THAT(Values(o), ElementsAre(3.0f, 1.0f, 4.0f));
}

TEST_F(MurmurAggregate, TrimmedMeanDropsFPerSide) {
  // f=1: mean(2,3,4)=3, mean(0,1,2)=1, mean(2,4,7)=13/3
  Outcome o = Murmur("aggregate --rule trimmed-mean --f 1" + WriteAll(kFive));
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_THAT(Values(o), ElementsAre(FloatEq(3.0f), FloatEq(1.0f), FloatEq(13.0f / 3.0f)));
}

TEST_F(MurmurAggregate, KrumSelectsTheLowestScoreAndMultiKrumTakesOptions) {
  const std::string inputs = WriteAll(kKrum);
  Outcome krum = Murmur("aggregate --rule krum --f 1" + inputs);
  ASSERT_EQ(krum.exit_code, 0) << krum.output;
  EXPECT_THAT(Values(krum), ElementsAre(0.0f, 1.0f));  // x2
  // m = 2: x2 and x3 (the tie with x0 goes to the smaller distance sum).
  Outcome multi = Murmur("aggregate --rule multi-krum:m=2 --f 1" + inputs);
  ASSERT_EQ(multi.exit_code, 0) << multi.output;
  EXPECT_THAT(Values(multi), ElementsAre(0.5f, 1.0f));
}

TEST_F(MurmurAggregate, GeometricMedianOfASquareIsItsCenter) {
  Outcome o = Murmur("aggregate --rule geometric-median" +
                     WriteAll({{2, -3}, {4, -3}, {2, -1}, {4, -1}}));
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_THAT(Values(o), ElementsAre(FloatNear(3.0f, 1e-5f), FloatNear(-2.0f, 1e-5f)));
}

TEST_F(MurmurAggregate, WeightedMeanAndReference) {
  // weights (1, 3, 0, 0, 0): (1*1 + 3*2)/4 = 1.75, 3/4 = 0.75, (2 + 12)/4 = 3.5
  const std::string inputs = WriteAll(kFive);
  Outcome mean = Murmur("aggregate --rule mean --weights 1,3,0,0,0" + inputs);
  ASSERT_EQ(mean.exit_code, 0) << mean.output;
  EXPECT_THAT(Values(mean), ElementsAre(FloatEq(1.75f), FloatEq(0.75f), FloatEq(3.5f)));
  // MoNNA from (0, 0): the 4 nearest of the Krum set are x0, x2, x3, x1.
  const std::string own = WriteVector("own.npy", {0, 0});
  Outcome monna = Murmur("aggregate --rule monna --f 1 --reference " + own + WriteAll(kKrum));
  ASSERT_EQ(monna.exit_code, 0) << monna.output;
  EXPECT_THAT(Values(monna), ElementsAre(0.75f, 0.5f));
}

TEST_F(MurmurAggregate, MeaMedAndBulyanMatchRulesTest) {
  // MeaMed f=1 keeps the 4 values nearest each coordinate's median:
  // {1,2,3,4} -> 2.5, {0,1,2,9} -> 3, {0,2,4,7} (tie to the smaller) -> 3.25.
  Outcome meamed = Murmur("aggregate --rule meamed --f 1" + WriteAll(kFive));
  ASSERT_EQ(meamed.exit_code, 0) << meamed.output;
  EXPECT_THAT(Values(meamed), ElementsAre(FloatEq(2.5f), FloatEq(3.0f), FloatEq(3.25f)));
  // Bulyan n=7 f=1 selects {0,1,2,3,4} by recursive Krum, then averages the
  // 3 values nearest the median 2 -> 2.
  Outcome bulyan = Murmur("aggregate --rule bulyan --f 1" +
                          WriteAll({{0}, {1}, {2}, {3}, {4}, {100}, {-100}}));
  ASSERT_EQ(bulyan.exit_code, 0) << bulyan.output;
  EXPECT_THAT(Values(bulyan), ElementsAre(FloatEq(2.0f)));
}

TEST_F(MurmurAggregate, CenteredClippingAroundZeroAndAroundTheReference) {
  // Center 0, tau 1: (3,4) -> (0.6,0.8), (0.3,0.4) stays, (0,0) adds nothing;
  // v = (0.9/3, 1.2/3).
  Outcome zero = Murmur("aggregate --rule centered-clipping:tau=1:iterations=1 --f 1" +
                        WriteAll({{3, 4}, {0.3f, 0.4f}, {0, 0}}));
  ASSERT_EQ(zero.exit_code, 0) << zero.output;
  EXPECT_THAT(Values(zero), ElementsAre(FloatEq(0.3f), FloatEq(0.4f)));
  // Center (10,10): deviations (3,4) -> (0.6,0.8), (0,0), (0,-10) -> (0,-1).
  const std::string center = WriteVector("center.npy", {10, 10});
  Outcome around = Murmur("aggregate --rule centered-clipping:tau=1:iterations=1 --f 1"
                          " --reference " + center +
                          WriteAll({{13, 14}, {10, 10}, {10, 0}}));
  ASSERT_EQ(around.exit_code, 0) << around.output;
  EXPECT_THAT(Values(around),
              ElementsAre(FloatEq(10.2f), FloatNear(10.0f - 0.2f / 3.0f, 1e-5f)));
}

TEST_F(MurmurAggregate, FlagProjectsOntoTheMajoritySubspace) {
  // Y = e1, so out = Y Y^T (u0 + u1 + u2) = (2,0,0); rescaled to the median
  // input norm 1 -> (1,0,0).
  const std::string inputs = WriteAll({{1, 0, 0}, {2, 0, 0}, {0, 1, 0}});
  Outcome flag = Murmur("aggregate --rule flag" + inputs);
  ASSERT_EQ(flag.exit_code, 0) << flag.output;
  EXPECT_THAT(Values(flag), ElementsAre(FloatNear(2.0f, 1e-5f), FloatNear(0.0f, 1e-5f),
                                        FloatNear(0.0f, 1e-5f)));
  Outcome rescaled = Murmur("aggregate --rule flag:rescale_to_median_norm=1" + inputs);
  ASSERT_EQ(rescaled.exit_code, 0) << rescaled.output;
  EXPECT_THAT(Values(rescaled), ElementsAre(FloatNear(1.0f, 1e-5f), FloatNear(0.0f, 1e-5f),
                                            FloatNear(0.0f, 1e-5f)));
}

TEST_F(MurmurAggregate, SimilarityDownweightingSilencesIdenticalSybils) {
  // cos(x0,x1) = 1: both get weight 0, so the output is x2.
  Outcome sybils = Murmur("aggregate --rule similarity-downweighting" +
                          WriteAll({{1, 0}, {1, 0}, {0, 1}}));
  ASSERT_EQ(sybils.exit_code, 0) << sybils.output;
  EXPECT_THAT(Values(sybils), ElementsAre(0.0f, 1.0f));
  // Pairwise cosines 0, -1, 0: every weight 1, the plain mean.
  Outcome apart = Murmur("aggregate --rule similarity-downweighting" +
                         WriteAll({{1, 0}, {0, 1}, {-1, 0}}));
  ASSERT_EQ(apart.exit_code, 0) << apart.output;
  EXPECT_THAT(Values(apart), ElementsAre(FloatEq(0.0f), FloatEq(1.0f / 3.0f)));
  // FoolsGold's pardoning and logit (rules_test.cc's ScoresOfThree): x0 alone.
  Outcome foolsgold = Murmur("aggregate --rule similarity-downweighting:pardoning=1:logit=1" +
                             WriteAll({{1, 0}, {0.6f, 0.8f}, {0, 1}}));
  ASSERT_EQ(foolsgold.exit_code, 0) << foolsgold.output;
  EXPECT_THAT(Values(foolsgold), ElementsAre(1.0f, 0.0f));
}

// Pre-aggregators before the mean: the mean of pre_aggregators_test.cc's
// hand-computed outputs.
TEST_F(MurmurAggregate, ClipAndArcBeforeTheMean) {
  // clip tau=1: {(0.6,0.8), (0.3,0.4)} -> mean (0.45, 0.6).
  Outcome clip = Murmur("aggregate --rule mean --pre clip:tau=1" +
                        WriteAll({{3, 4}, {0.3f, 0.4f}}));
  ASSERT_EQ(clip.exit_code, 0) << clip.output;
  EXPECT_THAT(Values(clip), ElementsAre(FloatEq(0.45f), FloatEq(0.6f)));
  // ARC f=1 clips (6,8) to the next largest norm 5 -> (3,4); the mean of
  // (3,4), (0,1), (0,2), (3,4), (0,0.5) is (6/5, 11.5/5).
  Outcome arc = Murmur("aggregate --rule mean --f 1 --pre arc" +
                       WriteAll({{3, 4}, {0, 1}, {0, 2}, {6, 8}, {0, 0.5f}}));
  ASSERT_EQ(arc.exit_code, 0) << arc.output;
  EXPECT_THAT(Values(arc), ElementsAre(FloatEq(1.2f), FloatEq(2.3f)));
}

TEST_F(MurmurAggregate, NnmAndBucketingBeforeTheMean) {
  // NNM f=1: {0,1,10} -> {0.5, 0.5, 5.5}, mean 6.5/3.
  Outcome nnm = Murmur("aggregate --rule mean --f 1 --pre nnm" + WriteAll({{0}, {1}, {10}}));
  ASSERT_EQ(nnm.exit_code, 0) << nnm.output;
  EXPECT_THAT(Values(nnm), ElementsAre(FloatEq(6.5f / 3.0f)));
  // Bucketing s=2 over {1,2,4,8,16}: buckets of sizes 2, 2, 1 with the
  // singleton x_k, so the mean of the bucket means is
  // ((31 - x_k) / 2 + x_k) / 3 = (31 + x_k) / 6; the same seed, the same k.
  const std::string inputs = WriteAll({{1}, {2}, {4}, {8}, {16}});
  Outcome first = Murmur("aggregate --rule mean --pre bucketing:s=2 --seed 7" + inputs);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(Values(first).size(), 1u);
  const float v = Values(first)[0];
  bool matches_a_singleton = false;
  for (float x : {1.0f, 2.0f, 4.0f, 8.0f, 16.0f}) {
    if (std::abs(v - (31.0f + x) / 6.0f) < 1e-5f) matches_a_singleton = true;
  }
  EXPECT_TRUE(matches_a_singleton) << v;
  Outcome again = Murmur("aggregate --rule mean --pre bucketing:s=2 --seed 7" + inputs);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(Values(again), Values(first));
}

TEST_F(MurmurAggregate, ReadsVersionTwoAndMultiDimensionalFilesAndWritesNpy) {
  // A 2x2 array in a version 2.0 file counts as one vector of 4 values.
  std::vector<std::string> paths;
  const std::vector<std::vector<float>> rows = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
  std::string inputs;
  for (size_t i = 0; i < rows.size(); ++i) {
    inputs += " " + WriteNpy("m" + std::to_string(i) + ".npy",
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                             std::string(reinterpret_cast<const char*>(rows[i].data()), 16), 2);
  }
  const std::string out = dir_ + "/agg.npy";
  Outcome o = Murmur("aggregate --rule median" + inputs + " --out " + out);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  std::ifstream in(out, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 128u + 16u);  // as numpy.save writes 4 float32s
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_THAT(bytes.substr(10, 118), HasSubstr("'shape': (4,)"));
  std::vector<float> values(4);
  std::memcpy(values.data(), bytes.data() + 128, 16);
  EXPECT_THAT(values, ElementsAre(5, 6, 7, 8));
}

TEST_F(MurmurAggregate, RejectsBadFilesWithExitCodeTwoAndAClearLine) {
  const std::string good = WriteVector("good.npy", {1, 2, 3});
  struct Case {
    std::string file;
    std::string message;
  };
  const std::string three_floats(12, '\0');
  const std::vector<Case> cases = {
      {WriteNpy("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                std::string(24, '\0')),
       "dtype '<f8'"},
      {WriteNpy("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }",
                three_floats),
       "fortran_order"},
      {WriteNpy("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                three_floats.substr(0, 10)),
       "truncated"},
      {WriteNpy("garbled.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }",
                three_floats),
       "shape must be a tuple"},
      {WriteVector("four.npy", {1, 2, 3, 4}), "has 4 values"},
      {WriteNpy("empty.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", ""),
       "holds no values"},
  };
  for (const Case& c : cases) {
    Outcome o = Murmur("aggregate --rule mean " + good + " " + c.file, Stderr::kIntoOutput);
    EXPECT_EQ(o.exit_code, 2) << c.file << ": " << o.output;
    EXPECT_THAT(o.output, HasSubstr(c.message)) << c.file;
    EXPECT_THAT(o.output, HasSubstr("murmur aggregate:")) << c.file;
    EXPECT_EQ(std::count(o.output.begin(), o.output.end(), '\n'), 1) << o.output;
  }
}

TEST_F(MurmurAggregate, RejectsBadRulesOptionsAndPreconditions) {
  const std::string inputs = WriteAll(kFive);
  struct Case {
    std::string args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"--rule krumm", "unknown aggregation rule 'krumm'; known: bulyan"},
           {"--rule trimmed-mean --f 3", "n=5 f=3"}}) {
    Outcome o = Murmur("aggregate " + c.args + inputs, Stderr::kIntoOutput);
    EXPECT_EQ(o.exit_code, 2) << c.args << ": " << o.output;
    EXPECT_THAT(o.output, HasSubstr(c.message)) << c.args;
  }
}

TEST_F(MurmurAggregate, MatchesNumpyWhenAvailable) {
  if (RunShell("python3 -c 'import numpy' 2>/dev/null").exit_code != 0) {
    GTEST_SKIP() << "python3-numpy is not installed";
  }
  // numpy.save writes the files; numpy.median is the reference.
  const std::string script =
      "import numpy as np\n"
      "rng = np.random.default_rng(7)\n"
      "x = rng.normal(size=(7, 3, 5)).astype(np.float32)\n"
      "for i in range(7): np.save('" + dir_ + "/n%d.npy' % i, x[i])\n"
      "np.savetxt('" + dir_ + "/median.txt', np.median(x.reshape(7, -1), axis=0), fmt='%.9g')\n";
  std::ofstream(dir_ + "/make.py") << script;
  ASSERT_EQ(RunShell("python3 " + dir_ + "/make.py").exit_code, 0);
  std::string inputs;
  for (int i = 0; i < 7; ++i) inputs += " " + dir_ + "/n" + std::to_string(i) + ".npy";
  Outcome o = Murmur("aggregate --rule median" + inputs);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  std::ifstream expected_file(dir_ + "/median.txt");
  std::vector<float> expected;
  float v;
  while (expected_file >> v) expected.push_back(v);
  ASSERT_EQ(expected.size(), 15u);
  EXPECT_EQ(Values(o), expected);
}

TEST(MurmurAggregateHelp, ListsRulesAndOptionSyntax) {
  Outcome o = Murmur("aggregate --help");
  EXPECT_EQ(o.exit_code, 0);
  for (const char* text : {"--rule", "--f", "--pre", "--out", "krum", "geometric-median",
                           "nnm", "multi-krum:m=3", ".npy"}) {
    EXPECT_THAT(o.output, HasSubstr(text));
  }
}

}  // namespace
