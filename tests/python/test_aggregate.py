"""murmur.aggregate: values against hand-computed cases and the `murmur aggregate` CLI,
zero-copy reads, errors."""

import subprocess

import numpy as np
import pytest

import murmur

try:
    import torch
except ImportError:  # python3-torch is optional; its tests skip without it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="python3-torch not installed")

# Three honest vectors and one outlier.
X = np.array([[1, 2, 3], [2, 3, 4], [3, 4, 5], [100, -100, 1000]], dtype=np.float32)


def test_median_of_known_vectors():
    out = murmur.aggregate("median", X[:3])
    assert out.dtype == np.float32 and out.shape == (3,)
    np.testing.assert_array_equal(out, [2, 3, 4])
    # Even count: mean of the two middle values (column 2 sorts to -100, 2, 3, 4).
    np.testing.assert_array_equal(murmur.aggregate("median", X, f=1), [2.5, 2.5, 4.5])


def test_mean_and_weighted_mean():
    np.testing.assert_array_equal(murmur.aggregate("mean", X[:3]), [2, 3, 4])
    out = murmur.aggregate("mean", X[:2], weights=[3, 1])
    np.testing.assert_allclose(out, [1.25, 2.25, 3.25], rtol=0, atol=1e-6)


def test_trimmed_mean_drops_extremes_per_coordinate():
    # f=1 drops the largest and smallest value of every coordinate.
    out = murmur.aggregate("trimmed-mean", X, f=1)
    np.testing.assert_allclose(out, [2.5, 2.5, 4.5], atol=1e-6)


def test_krum_picks_the_vector_closest_to_its_neighbours():
    # n=5, f=1: Krum scores each vector by the squared distances to its
    # n-f-2 = 2 nearest others. Scores: [0], [1], [2]: 0.5 + 1 = 1.5;
    # [3] (the centre): 0.5 + 0.5 = 1; [4]: huge. Krum picks input 3.
    v = np.array([[0, 0], [1, 0], [0, 1], [0.5, 0.5], [50, 50]], dtype=np.float32)
    np.testing.assert_array_equal(murmur.aggregate("krum", v, f=1), v[3])
    # Move the centre away: [1] and [2] now score 1 + 2 = 3 ... and [0] 1 + 1 = 2.
    moved = v.copy()
    moved[3] = [20, 20]
    np.testing.assert_array_equal(murmur.aggregate("krum", moved, f=1), moved[0])


def test_rule_options_as_keywords_or_in_the_rule_string():
    v = np.arange(30, dtype=np.float32).reshape(6, 5)
    a = murmur.aggregate("multi-krum", v, f=1, m=2)
    b = murmur.aggregate("multi-krum:m=2", v, f=1)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="given twice"):
        murmur.aggregate("multi-krum:m=2", v, f=1, m=3)


def test_list_of_vectors_equals_2d_array():
    rows = [X[i].copy() for i in range(4)]
    np.testing.assert_array_equal(murmur.aggregate("median", rows, f=1),
                                  murmur.aggregate("median", X, f=1))
    np.testing.assert_array_equal(murmur.aggregate("median", tuple(rows), f=1),
                                  murmur.aggregate("median", X, f=1))


def test_pre_aggregators_in_every_accepted_form():
    v = np.array([[3, 4], [0, 1], [6, 8]], dtype=np.float32)
    # clip:tau=5 scales [6, 8] (norm 10) to [3, 4]; the mean is then (6, 9) / 3.
    expected = np.array([2, 3], dtype=np.float32)
    for pre in ("clip:tau=5", ["clip:tau=5"], [("clip", {"tau": 5})]):
        np.testing.assert_allclose(murmur.aggregate("mean", v, pre=pre), expected, atol=1e-6)
    chained = murmur.aggregate("median", v, pre="clip:tau=5,nnm", f=0)
    assert chained.shape == (2,)


def test_reference_is_the_center_of_centered_clipping():
    v = np.array([[1, 0], [0, 1], [10, 10]], dtype=np.float32)
    ref = np.array([10, 10], dtype=np.float32)
    # tau large enough to keep every difference: one step lands on the mean.
    out = murmur.aggregate("centered-clipping", v, reference=ref, tau=1e6)
    np.testing.assert_allclose(out, v.mean(axis=0), atol=1e-5)


def test_bucketing_is_seeded():
    v = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    a = murmur.aggregate("median", v, pre="bucketing", seed=3)
    b = murmur.aggregate("median", v, pre="bucketing", seed=3)
    np.testing.assert_array_equal(a, b)


def test_result_does_not_depend_on_threads():
    v = np.random.default_rng(1).standard_normal((11, 100_003)).astype(np.float32)
    one = murmur.aggregate("trimmed-mean", v, f=2, threads=1)
    for threads in (2, 3, None):
        np.testing.assert_array_equal(murmur.aggregate("trimmed-mean", v, f=2, threads=threads),
                                      one)


def test_inputs_are_read_in_place():
    v = np.random.default_rng(2).standard_normal((5, 64)).astype(np.float32)
    murmur.aggregate("median", v)
    assert murmur._murmur._last_input_addresses() == [v.ctypes.data + i * 64 * 4
                                                      for i in range(5)]
    rows = [np.ones(8, np.float32) * i for i in range(3)]
    murmur.aggregate("mean", rows)
    assert murmur._murmur._last_input_addresses() == [r.ctypes.data for r in rows]
    # A row-slice of a bigger array is C-contiguous too, and read where it lies.
    sub = v[1:4]
    murmur.aggregate("mean", sub)
    assert murmur._murmur._last_input_addresses()[0] == v.ctypes.data + 64 * 4


@needs_torch
def test_torch_in_torch_out_read_in_place():
    t = torch.tensor(X)
    out = murmur.aggregate("median", t, f=1)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert torch.equal(out, torch.tensor([2.5, 2.5, 4.5]))
    assert murmur._murmur._last_input_addresses()[0] == t.data_ptr()
    rows = [torch.full((4,), float(i)) for i in range(3)]
    out = murmur.aggregate("mean", rows)
    assert isinstance(out, torch.Tensor) and torch.equal(out, torch.full((4,), 1.0))
    assert murmur._murmur._last_input_addresses() == [r.data_ptr() for r in rows]
    # A tensor that requires grad is read (detached) as well.
    g = torch.tensor(X, requires_grad=True)
    assert torch.equal(murmur.aggregate("median", g, f=1), torch.tensor([2.5, 2.5, 4.5]))


@needs_torch
def test_torch_bad_inputs_raise_type_error():
    with pytest.raises(TypeError, match="float32"):
        murmur.aggregate("median", torch.zeros(3, 4, dtype=torch.float64))


def test_unknown_rule_raises_value_error_listing_known_ones():
    with pytest.raises(ValueError, match="unknown aggregation rule 'nope'; known: bulyan"):
        murmur.aggregate("nope", X)


def test_unknown_option_and_bad_precondition_raise_value_error():
    with pytest.raises(ValueError, match="m"):
        murmur.aggregate("median", X, m=3)
    with pytest.raises(ValueError, match="n=4"):
        murmur.aggregate("trimmed-mean", X, f=2)
    with pytest.raises(ValueError):
        murmur.aggregate("median", X, f=-1)
    with pytest.raises(ValueError, match="clip"):
        murmur.aggregate("mean", X, pre="clip")  # tau is required


def test_bad_arrays_raise():
    with pytest.raises(TypeError, match="float32"):
        murmur.aggregate("median", X.astype(np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        murmur.aggregate("median", np.asfortranarray(X))
    with pytest.raises(ValueError, match="C-contiguous"):
        murmur.aggregate("median", [X[:, 0]])
    with pytest.raises(ValueError, match="same size"):
        murmur.aggregate("median", [np.zeros(3, np.float32), np.zeros(4, np.float32)])
    with pytest.raises(ValueError, match="2-D"):
        murmur.aggregate("median", np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="no vectors"):
        murmur.aggregate("median", [])
    with pytest.raises(TypeError):
        murmur.aggregate("median", "not an array")
    with pytest.raises(TypeError):
        murmur.aggregate("median", [1.0, 2.0])
    with pytest.raises(ValueError, match="weights has 2 entries for 4 inputs"):
        murmur.aggregate("mean", X, weights=[1, 2])
    with pytest.raises(ValueError, match="threads"):
        murmur.aggregate("mean", X, threads=0)
    with pytest.raises(TypeError):
        murmur.aggregate(3, X)
    with pytest.raises(TypeError):
        murmur.aggregate("mean", X, f=1.5)
    with pytest.raises(ValueError, match="key=value"):
        murmur.aggregate("multi-krum:m", X)


@pytest.mark.parametrize("rule,f,extra", [
    ("median", 1, []),
    ("trimmed-mean", 1, []),
    ("meamed", 1, []),
    ("krum", 1, []),
    ("multi-krum:m=3", 1, []),
    ("geometric-median", 1, []),
    ("bulyan", 1, []),
    ("mean", 0, ["--pre", "clip:tau=2,nnm"]),
    ("median", 1, ["--pre", "bucketing:s=2", "--seed", "5"]),
])
def test_matches_the_cli(murmur_bin, tmp_path, rule, f, extra):
    v = np.random.default_rng(7).standard_normal((7, 33)).astype(np.float32)
    files = []
    for i, row in enumerate(v):
        files.append(tmp_path / f"g{i}.npy")
        np.save(files[-1], row)
    out_file = tmp_path / "out.npy"
    subprocess.run([str(murmur_bin), "aggregate", "--rule", rule, "--f", str(f), *extra,
                    *map(str, files), "--out", str(out_file)], check=True, capture_output=True)
    kwargs = {}
    if "--pre" in extra:
        kwargs["pre"] = extra[extra.index("--pre") + 1]
    if "--seed" in extra:
        kwargs["seed"] = int(extra[extra.index("--seed") + 1])
    np.testing.assert_array_equal(murmur.aggregate(rule, v, f=f, **kwargs), np.load(out_file))


def test_error_message_is_the_clis(murmur_bin, tmp_path):
    np.save(tmp_path / "a.npy", X[0])
    cli = subprocess.run([str(murmur_bin), "aggregate", "--rule", "trimmed-mean", "--f", "1",
                          str(tmp_path / "a.npy")], capture_output=True, text=True)
    assert cli.returncode != 0
    with pytest.raises(ValueError) as err:
        murmur.aggregate("trimmed-mean", X[:1], f=1)
    assert str(err.value) in cli.stderr
