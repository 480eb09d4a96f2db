"""murmur.codec and the error-feedback state objects: the wire format of
docs/compression.md, exact values, errors."""

import numpy as np
import pytest

import murmur

X = np.array([0.5, -4.0, 0.25, 3.0, -0.125, 1.0, 2.0, -1.5], dtype=np.float32)


def test_fp32_frame_is_id_dim_then_raw_floats():
    c = murmur.codec("fp32")
    frame = c.encode(X)
    assert isinstance(frame, bytes)
    # u8 codec id (kFp32 = 1) | varint dimension (8) | 8 little-endian float32.
    assert frame == bytes([1, 8]) + X.astype("<f4").tobytes()
    out = c.decode(frame)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, X)


def test_topk_keeps_the_largest_magnitudes():
    c = murmur.codec("topk:k=2")
    assert c.id == 6 and c.name == "topk:k=2"
    frame = c.encode(X)
    assert frame[0] == 6 and frame[1] == 8
    expected = np.zeros(8, np.float32)
    expected[[1, 3]] = X[[1, 3]]
    np.testing.assert_array_equal(c.decode(frame), expected)
    np.testing.assert_array_equal(c.decode(frame, 8), expected)
    indices, values = c.decode_sparse(frame, 8)
    np.testing.assert_array_equal(indices, [1, 3])
    np.testing.assert_array_equal(values, X[[1, 3]])


def test_chains_round_trip_within_their_error():
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    for spec, tol in (("fp16", 1e-3), ("int8", 0.05), ("fp32|zstd", 0), ("topk:0.5|int8|zstd", None)):
        c = murmur.codec(spec)
        frame = c.encode(x)
        assert len(frame) <= c.max_encoded_size(x.size)
        out = c.decode(frame)
        assert out.shape == x.shape and np.all(np.isfinite(out))
        if tol is not None:
            assert np.max(np.abs(out - x)) <= tol * np.max(np.abs(x)), spec


def test_encode_and_decode_returns_what_the_receiver_decodes():
    c = murmur.codec("randk:0.25|int8")
    frame, decoded = c.encode_and_decode(X, seed=9, sender=2, step=4)
    np.testing.assert_array_equal(c.decode(frame, seed=9, sender=2, step=4), decoded)
    # rand-k's index set comes from (seed, sender, step): the same call gives the same frame.
    assert c.encode(X, seed=9, sender=2, step=4) == frame


def test_bad_specs_and_frames_raise_value_error():
    with pytest.raises(ValueError, match="nope"):
        murmur.codec("nope")
    c = murmur.codec("fp32")
    frame = c.encode(X)
    with pytest.raises(ValueError):
        c.decode(frame[:-1])             # truncated
    with pytest.raises(ValueError):
        c.decode(frame, 7)               # dimension other than the receiver's
    with pytest.raises(ValueError):
        c.decode(b"")
    with pytest.raises(ValueError, match="max_dim"):
        c.decode(bytes([1, 0xff, 0xff, 0xff, 0xff, 0x0f]))  # declares 2^32 - 1 floats
    with pytest.raises(ValueError):
        c.encode(np.array([1, np.nan], np.float32))
    with pytest.raises(TypeError, match="float32"):
        c.encode(X.astype(np.float64))
    with pytest.raises(TypeError):
        c.decode("text")


def test_error_feedback_remembers_what_compression_dropped():
    c = murmur.codec("topk:k=1")
    ef = murmur.ErrorFeedback(c, 4)
    x = np.array([1, 0.5, 0.25, 0], np.float32)
    frame = ef.encode(x)
    np.testing.assert_array_equal(c.decode(frame), [1, 0, 0, 0])
    np.testing.assert_array_equal(ef.error, [0, 0.5, 0.25, 0])
    # Next step sends x + e = (1, 1, 0.5, 0): the first largest, index 0.
    ef.encode(x)
    np.testing.assert_array_equal(ef.codec_input, [1, 1, 0.5, 0])
    ef.reset()
    np.testing.assert_array_equal(ef.error, np.zeros(4))
    with pytest.raises(ValueError, match="dim=4"):
        ef.encode(np.zeros(5, np.float32))


def test_ef21_and_econtrol_estimates_match_the_receiver():
    c = murmur.codec("topk:k=2|int8")
    rng = np.random.default_rng(3)
    for encoder in (murmur.Ef21(c, 16), murmur.EControl(c, 16, eta=0.5)):
        receiver = murmur.EstimateReceiver(c, 16)
        for step in range(5):
            x = rng.standard_normal(16).astype(np.float32)
            receiver.receive(encoder.encode(x, step=step), step=step)
            np.testing.assert_array_equal(receiver.estimate, encoder.estimate)
        receiver.reset()
        np.testing.assert_array_equal(receiver.estimate, np.zeros(16))
    econtrol = murmur.EControl(c, 4, eta=0.25)
    assert econtrol.eta == 0.25 and econtrol.error.shape == (4,) and econtrol.dim == 4
    with pytest.raises(ValueError, match="eta"):
        murmur.EControl(c, 4, eta=-1)
    with pytest.raises(ValueError, match="dim"):
        murmur.Ef21(c, 0)
    with pytest.raises(ValueError):
        murmur.EstimateReceiver(c, 4).receive(b"\x01\x04")


def test_state_objects_keep_their_codec_alive():
    ef = murmur.ErrorFeedback(murmur.codec("sign"), 3)
    import gc

    gc.collect()
    assert len(ef.encode(np.ones(3, np.float32))) > 0


# RQM ("rqm", Youn et al. 2023) is a DP mechanism: encode draws its kept
# levels and rounding from a privacy stream, the operating system's unless
# privacy_seed names a replayable one.
RQM = "rqm:clip=1,delta=2,levels=5,keep=0.5"
LEVELS = [-2.0, -1.0, 0.0, 1.0, 2.0]


def test_rqm_encodes_from_os_randomness_by_default():
    c = murmur.codec(RQM)
    x = np.full(2000, 0.3, dtype=np.float32)
    a, b = c.encode(x), c.encode(x)
    assert len(a) == c.max_encoded_size(x.size)
    # 2000 independent roundings of 0.3: equal frames would mean replayed draws.
    assert a != b
    decoded = c.decode(a)
    assert set(np.unique(decoded)) <= set(LEVELS)


def test_rqm_privacy_seed_replays_and_the_encoding_is_unbiased():
    c = murmur.codec(RQM)
    x = np.full(100_000, 0.3, dtype=np.float32)
    a = c.encode(x, privacy_seed=7)
    assert a == c.encode(x, privacy_seed=7)
    assert a != c.encode(x, privacy_seed=8)
    assert a != c.encode(x, privacy_seed=7, step=1)
    frame, decoded = c.encode_and_decode(x, privacy_seed=7)
    assert frame == a
    np.testing.assert_array_equal(decoded, c.decode(a))
    # Each decoded value lies in [-2, 2]: the mean of 1e5 is within
    # 2 / sqrt(1e5) = 0.0063 of 0.3 per standard deviation; allow 5.
    assert abs(float(decoded.mean()) - 0.3) < 0.032


def test_rqm_under_error_feedback_encodes_with_a_seeded_or_os_stream():
    x = np.full(64, 0.5, dtype=np.float32)
    ef = murmur.ErrorFeedback(murmur.codec(RQM), 64)
    frame = ef.encode(x, privacy_seed=3)
    assert len(frame) == murmur.codec(RQM).max_encoded_size(64)
    ef.encode(x)  # the operating system's stream
    with pytest.raises(ValueError, match="2\\^24"):
        murmur.codec(RQM).encode(x, privacy_seed=1, step=1 << 24)
