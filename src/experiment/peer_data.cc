#include "murmur/experiment/peer_data.h"

#include <algorithm>
#include <iterator>
#include <numeric>
#include <utility>

#include "murmur/experiment/run_setup.h"
#include "murmur/learn/fashion_mnist_rows.h"
#include "murmur/learn/partition.h"

namespace murmur {
namespace {

// A damaged dataset file is the user's to fix (exit code 2), as in
// LoadRunData.
Status AsUserError(Status status) {
  if (status.code() == StatusCode::kCorrupt) return Status::InvalidArgument(status.message());
  return status;
}

// Positions of `shard` (ascending) within `rows` (ascending, a superset).
std::vector<int64_t> PositionsIn(const std::vector<int64_t>& rows,
                                 const std::vector<int64_t>& shard) {
  std::vector<int64_t> out;
  out.reserve(shard.size());
  for (int64_t index : shard) {
    out.push_back(std::lower_bound(rows.begin(), rows.end(), index) - rows.begin());
  }
  return out;
}

// Splits `full` (the whole training set, or its labels only) and fills
// `data`'s shard positions; returns the rows to keep.
Result<std::vector<int64_t>> ChooseRows(const RunConfig& config, const Dataset& full,
                                        uint32_t shard, bool with_peer0, PeerData& data) {
  MURMUR_ASSIGN_OR_RETURN(Partition partition, PartitionDataset(full, config.peers,
                                                                config.data.partition,
                                                                config.seed));
  MURMUR_CHECK(shard < partition.size());
  std::vector<int64_t> rows = partition[shard];
  if (with_peer0) {
    std::vector<int64_t> merged;
    std::set_union(rows.begin(), rows.end(), partition[0].begin(), partition[0].end(),
                   std::back_inserter(merged));
    rows = std::move(merged);
    data.peer0 = PositionsIn(rows, partition[0]);
  }
  data.own = PositionsIn(rows, partition[shard]);
  return rows;
}

}  // namespace

Result<PeerData> LoadPeerData(const RunConfig& config, uint32_t shard, bool with_peer0) {
  PeerData data;
  if (config.data.dataset == DatasetKind::kFashionMnist) {
    Result<Dataset> labels = LoadFashionMnistLabels(config.data.path, FashionMnistSplit::kTrain);
    if (!labels.ok()) return AsUserError(labels.status());
    MURMUR_ASSIGN_OR_RETURN(std::vector<int64_t> rows,
                            ChooseRows(config, *labels, shard, with_peer0, data));
    MURMUR_RETURN_IF_ERROR(AsUserError(
        LoadFashionMnistRows(config.data.path, FashionMnistSplit::kTrain, rows, *labels)));
    data.train = std::move(*labels);
    return data;
  }
  MURMUR_ASSIGN_OR_RETURN(TrainTestSplit whole, LoadRunData(config));
  MURMUR_ASSIGN_OR_RETURN(std::vector<int64_t> rows,
                          ChooseRows(config, whole.train, shard, with_peer0, data));
  data.train = SelectRows(whole.train, rows);
  data.test = std::move(whole.test);
  data.test_loaded = true;
  return data;
}

Status LoadPeerTestSet(const RunConfig& config, PeerData& data) {
  if (data.test_loaded) return Status::Ok();
  MURMUR_CHECK(config.data.dataset == DatasetKind::kFashionMnist);
  Result<Dataset> test = LoadFashionMnistLabels(config.data.path, FashionMnistSplit::kTest);
  if (!test.ok()) return AsUserError(test.status());
  std::vector<int64_t> rows(static_cast<size_t>(test->size()));
  std::iota(rows.begin(), rows.end(), 0);
  MURMUR_RETURN_IF_ERROR(AsUserError(
      LoadFashionMnistRows(config.data.path, FashionMnistSplit::kTest, rows, *test)));
  if (test->height != data.train.height || test->width != data.train.width) {
    return Status::InvalidArgument("Fashion-MNIST in '", config.data.path,
                                   "': train images are ", data.train.height, "x",
                                   data.train.width, " but test images are ", test->height, "x",
                                   test->width);
  }
  data.test = std::move(*test);
  data.test_loaded = true;
  return Status::Ok();
}

void DropPeerTestSet(PeerData& data) {
  data.test = Dataset{};
  data.test_loaded = true;
}

}  // namespace murmur
