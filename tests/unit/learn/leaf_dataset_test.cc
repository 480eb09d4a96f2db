#include "murmur/learn/leaf_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "murmur/learn/text_dataset.h"
#include "testing/data_files.h"

namespace murmur {
namespace {

using ::testing::HasSubstr;
using testing::DataDir;
using testing::LeafUser;
using testing::WriteLeafFile;
using Json = nlohmann::json;

Json Pixels(std::vector<float> v) { return Json(v); }

// FEMNIST-like: 4 pixels (a 2x2 image), integer classes, users spread over
// two training files (read in name order) and one test file.
void WriteFemnistLike(const DataDir& dir) {
  WriteLeafFile(dir.File("train/b_train.json"),
                {{"f2", {Pixels({0, 0, 0, 1})}, {0}}});
  WriteLeafFile(dir.File("train/a_train.json"),
                {{"f1", {Pixels({1, 0, 0, 0}), Pixels({0, 1, 0, 0})}, {3, 1}},
                 {"f0", {Pixels({0.5, 0.25, 0, 0})}, {2}}});
  WriteLeafFile(dir.File("test/a_test.json"),
                {{"f1", {Pixels({0, 0, 1, 0.75})}, {5}}});
}

TEST(LoadLeaf, ReadsFemnistLikeImagesWithUsersAsWriters) {
  DataDir dir;
  WriteFemnistLike(dir);
  Result<TrainTestSplit> s = LoadLeaf(dir.path().string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->train.channels, 1);
  EXPECT_EQ(s->train.height, 2);
  EXPECT_EQ(s->train.width, 2);
  EXPECT_EQ(s->train.features,
            (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 0.5, 0.25, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(s->train.labels, (std::vector<int64_t>{3, 1, 2, 0}));
  // a_train.json first (f1, f0), then b_train.json (f2).
  EXPECT_EQ(s->train.writers, (std::vector<int64_t>{0, 0, 1, 2}));
  EXPECT_EQ(s->train.num_writers, 3);
  EXPECT_EQ(s->test.features, (std::vector<float>{0, 0, 1, 0.75}));
  EXPECT_EQ(s->test.labels, (std::vector<int64_t>{5}));
  EXPECT_EQ(s->train.num_classes, 6);  // max label 5, seen in test only
  EXPECT_EQ(s->test.num_classes, 6);
}

TEST(LoadLeaf, NonSquareFeatureVectorsAreOneByOneByD) {
  DataDir dir;
  WriteLeafFile(dir.File("train/t.json"), {{"u", {Pixels({1, 2, 3})}, {0}}});
  WriteLeafFile(dir.File("test/t.json"), {{"u", {Pixels({4, 5, 6})}, {1}}});
  Result<TrainTestSplit> s = LoadLeaf(dir.path().string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->train.height, 1);
  EXPECT_EQ(s->train.width, 3);
}

// Shakespeare: x the characters before the target, y the next character.
TEST(LoadLeaf, ReadsShakespeareLikeTextAsCharacterIds) {
  DataDir dir;
  WriteLeafFile(dir.File("train/s.json"),
                {{"ROMEO", {"abcd", "xy"}, {"e", "z"}}, {"JULIET", {"Hi!!"}, {"\n"}}});
  WriteLeafFile(dir.File("test/s.json"), {{"ROMEO", {"12345"}, {"6"}}});
  Result<TrainTestSplit> s = LoadLeaf(dir.path().string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->train.height, 1);
  EXPECT_EQ(s->train.width, 4);  // the longest training string
  auto id = [](char c) { return static_cast<float>(CharId(static_cast<uint8_t>(c))); };
  const float pad = id('\n');
  EXPECT_EQ(s->train.features, (std::vector<float>{id('a'), id('b'), id('c'), id('d'), pad, pad,
                                                   id('x'), id('y'), id('H'), id('i'), id('!'),
                                                   id('!')}));
  EXPECT_EQ(s->train.labels,
            (std::vector<int64_t>{CharId('e'), CharId('z'), CharId('\n')}));
  // A longer test string keeps its last 4 characters.
  EXPECT_EQ(s->test.features, (std::vector<float>{id('2'), id('3'), id('4'), id('5')}));
  EXPECT_EQ(s->train.num_classes, kCharVocabSize);
  EXPECT_EQ(s->train.writers, (std::vector<int64_t>{0, 0, 1}));
}

// Sent140: x is [id, date, query, user, text]; the text is read.
TEST(LoadLeaf, ReadsSent140LikeTweetsByTheirText) {
  DataDir dir;
  const Json tweet = Json::array({"1467811184", "Mon Apr 06", "NO_QUERY", "bob", "ok"});
  WriteLeafFile(dir.File("train/t.json"), {{"bob", {tweet}, {1}}});
  WriteLeafFile(dir.File("test/t.json"), {{"bob", {tweet}, {0}}});
  Result<TrainTestSplit> s = LoadLeaf(dir.path().string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->train.width, 2);
  EXPECT_EQ(s->train.features,
            (std::vector<float>{static_cast<float>(CharId('o')), static_cast<float>(CharId('k'))}));
  EXPECT_EQ(s->train.num_classes, 2);
}

TEST(LoadLeaf, MissingFoldersSayWhatIsExpectedWhere) {
  DataDir dir;
  Result<TrainTestSplit> s = LoadLeaf(dir.File("nowhere"));
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr(dir.File("nowhere") + "/train"));
  EXPECT_THAT(s.status().message(), HasSubstr("preprocess.sh"));
  WriteLeafFile(dir.File("train/t.json"), {{"u", {Pixels({1})}, {0}}});
  s = LoadLeaf(dir.path().string());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr(dir.File("test")));
}

TEST(LoadLeaf, RejectsMalformedFilesNamingTheFileAndUser) {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::string good_test =
      R"({"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [[1, 2]], "y": [0]}}})";
  const std::vector<Case> cases = {
      {good_test.substr(0, good_test.size() / 2), "not valid JSON"},
      {"[1, 2]", "expected an object"},
      {R"({"users": ["u"], "num_samples": [2], "user_data": {"u": {"x": [[1, 2]], "y": [0]}}})",
       "user 'u': num_samples says 2 but x has 1"},
      {R"({"users": ["u", "v"], "num_samples": [1], "user_data": {}})", "2 users but 1"},
      {R"({"users": ["u"], "num_samples": [1], "user_data": {}})", "no user_data entry"},
      {R"({"users": ["u"], "num_samples": [2], "user_data": {"u": {"x": [[1, 2], [3]], "y": [0, 0]}}})",
       "sample 1: x has 1 values but earlier samples have 2"},
      {R"({"users": ["u"], "num_samples": [2], "user_data": {"u": {"x": [[1, 2], "ab"], "y": [0, 0]}}})",
       "mixes numbers and text"},
      {R"({"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [[1, 2]], "y": [-4]}}})",
       "label -4"},
      {R"({"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [[1, 2]], "y": [1.5]}}})",
       "y must be an integer"},
      {R"({"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [[1, null]], "y": [0]}}})",
       "not a number"},
      {R"({"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [[1, 1e999]], "y": [0]}}})",
       "JSON"},
  };
  for (const Case& c : cases) {
    DataDir dir;
    testing::WriteText(dir.File("train/bad.json"), c.text);
    testing::WriteText(dir.File("test/t.json"), good_test);
    Result<TrainTestSplit> s = LoadLeaf(dir.path().string());
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.status().code(), StatusCode::kCorrupt) << c.text;
    EXPECT_THAT(s.status().message(), HasSubstr(dir.File("train/bad.json"))) << c.text;
    EXPECT_THAT(s.status().message(), HasSubstr(c.says)) << c.text;
  }
}

}  // namespace
}  // namespace murmur
